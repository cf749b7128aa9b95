// The harness that cross-service tests and benchmarks share.
export { startService, stopAll, type ServiceName, type ServiceProcess } from "./harness.js";
export { configureApps } from "./apps.js";
export { before, beforeStream, heraldClient, onlineEvent, publish } from "./grpc-client.js";
export { storedMsgIds } from "./stream-contents.js";
