import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type { DeliveryLogServiceClient, DeliveryLogServiceServer } from "@herald/proto";
import { LOG_STORE_REFUSED_GATEWAY } from "@herald/admin";
import type { Logger } from "@herald/runtime";

type Forwarded<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * DeliveryLogService on the gateway's port, answered by the log store through `client`: a chat core
 * needs one address for everything. Answers and errors (with their herald-field) pass through as
 * the log store gave them, except its UNAUTHENTICATED: that is about the gateway's own credentials.
 * The caller's metadata (its token) is not forwarded; the client sends the gateway's.
 */
export function forwardDeliveryLog(
  client: DeliveryLogServiceClient,
  timeoutMs: number,
  log: Logger,
): DeliveryLogServiceServer {
  const forward =
    <Req, Res>(method: Forwarded<Req, Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) =>
      method(call.request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (err === null) return callback(null, res);
        if (err.code !== status.UNAUTHENTICATED) return callback(err);
        log.error({ err }, LOG_STORE_REFUSED_GATEWAY);
        callback({ code: status.INTERNAL, details: LOG_STORE_REFUSED_GATEWAY });
      });
  return {
    listAttempts: forward((req, md, opts, cb) => client.listAttempts(req, md, opts, cb)),
    getEventDeliveries: forward((req, md, opts, cb) => client.getEventDeliveries(req, md, opts, cb)),
    getEndpointActivity: forward((req, md, opts, cb) => client.getEndpointActivity(req, md, opts, cb)),
    listDeadDeliveries: forward((req, md, opts, cb) => client.listDeadDeliveries(req, md, opts, cb)),
    getOverview: forward((req, md, opts, cb) => client.getOverview(req, md, opts, cb)),
    listDeliveries: forward((req, md, opts, cb) => client.listDeliveries(req, md, opts, cb)),
  };
}

/** DeliveryLogService when the gateway knows no log store: every call says so. */
export function withoutLogStore(): DeliveryLogServiceServer {
  const refuse = (_call: unknown, callback: sendUnaryData<never>) =>
    callback({
      code: status.FAILED_PRECONDITION,
      details: "log queries need the log store: set LOGSTORE_ADDRESS on the gateway",
    });
  return {
    listAttempts: refuse,
    getEventDeliveries: refuse,
    getEndpointActivity: refuse,
    listDeadDeliveries: refuse,
    getOverview: refuse,
    listDeliveries: refuse,
  };
}
