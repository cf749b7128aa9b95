export { busNames, appScopedMsgId, isSubjectToken } from "./names.js";
export type { BusNames, EventAddress } from "./names.js";
export {
  DEFAULT_PARTITIONS,
  MAX_PARTITIONS,
  EventsLayout,
  checkPartitions,
  partitionOf,
} from "./partitions.js";
export {
  COPY_HEADER,
  eventPartition,
  eventSubject,
  isCopy,
  storeEvent,
  storedCopies,
} from "./stored-event.js";
export type { StoredCopy } from "./stored-event.js";
export { BusConnectError, connectBus, messageLimitBytes } from "./connection.js";
export { largestPayloadBytes } from "./limits.js";
export type { Bus, BusOptions } from "./connection.js";
export { applyTopology, EventsLayoutError, streamConfigs, TopologyDriftError } from "./topology.js";
export type { StreamDeclaration, TopologyOptions } from "./topology.js";
export { publishEvent } from "./publish.js";
export type { PublishEventOptions, PublishResult } from "./publish.js";
export { ensureConsumer, isConsumerNotFound } from "./consumer-spec.js";
export type { ConsumerSpec } from "./consumer-spec.js";
export { defaultRetryDelayMs, later, retryAllButTerminal, startConsumer } from "./consume.js";
export type { ConsumerOptions, ConsumerRunner, ConsumerState, Delivery, Handler, Later } from "./consume.js";
export { startBus } from "./start.js";
export { RpcUnavailableError, requestRpc, serveRpc } from "./rpc.js";
export type { RpcContext, RpcRequestOptions, RpcServer, RpcServerOptions } from "./rpc.js";
export {
  ATTEMPT_BODY_LIMIT,
  AttemptRecorder,
  decodeAttemptRecords,
  publishAttempt,
  publishAttemptDurably,
  truncateBody,
} from "./attempt.js";
export type { AttemptRecord, NewAttemptRecord } from "./attempt.js";
export { decodeKeyToken, encodeKeyToken } from "./kv-keys.js";
export { KeyedQueue } from "./keyed-queue.js";
export {
  JOB_HEADERS,
  deliveryIdOf,
  jobHeaders,
  jobMessage,
  jobPartition,
  publishDeliveryJob,
  publishDeliveryJobs,
  readJob,
  routedJobMsgId,
} from "./delivery-job.js";
export type { Job, JobTrigger } from "./delivery-job.js";
export { readCurrent, readCurrentPage } from "./kv-read.js";
export type { CurrentEntry, CurrentPage } from "./kv-read.js";
export { StreamRefusedError, publishMany } from "./publish-many.js";
export { isWrongRevision } from "./kv-errors.js";
export { isNatsUnanswered, natsUnanswered } from "./nats-errors.js";
export type { OutgoingMessage, PublishManyOptions, StreamAck } from "./publish-many.js";
export { messageTrace, setTraceHeaders, traceHeaderValues } from "./trace.js";
