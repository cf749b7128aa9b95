export { grpcCode, toServiceError, unimplemented } from "./errors.js";
export { startGrpcServer, unimplementedService } from "./server.js";
export type { GrpcServer, GrpcServices } from "./server.js";
export { unaryHandler } from "./unary.js";
export { protoFieldName, wireError, wireProblem, withWireChecks } from "./wire-check.js";
export type { WireProblem } from "./wire-check.js";
