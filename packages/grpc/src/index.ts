export { grpcCode, toServiceError, unimplemented } from "./errors.js";
export { isLoopback, startGrpcServer, unimplementedService } from "./server.js";
export type { GrpcServer, GrpcServices } from "./server.js";
export { unaryHandler } from "./unary.js";
export { grpcAuthToken, grpcClientEnv, grpcServerEnv } from "./security-env.js";
export type { GrpcClientEnv, GrpcClientEnvKey, GrpcServerEnv } from "./security-env.js";
export { grpcClientSecurity, grpcClientSetup, grpcServerSecurity } from "./security.js";
export type { GrpcClientSecurity, GrpcServerSecurity } from "./security.js";
