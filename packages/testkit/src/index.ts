export { startNats, type NatsFixture, type StartNatsOptions } from "./nats.js";
export {
  startNatsCluster,
  type ClusterServer,
  type NatsClusterFixture,
  type StartNatsClusterOptions,
} from "./nats-cluster.js";
export { startPostgres, type PostgresFixture } from "./postgres.js";
export {
  startRecordingServer,
  type RecordedRequest,
  type RecordingServer,
  type Reply,
} from "./recording-server.js";
export { freePort, waitFor, type WaitForOptions } from "./wait.js";
export { FixtureStartError, UnsupportedFixtureOperationError, WaitTimeoutError } from "./errors.js";
export { makeTestPki, type TestCertificate, type TestPki } from "./tls.js";
