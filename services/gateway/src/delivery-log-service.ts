import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type { DeliveryLogServiceClient, DeliveryLogServiceServer } from "@herald/proto";

type Forwarded<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * DeliveryLogService on the gateway's port, answered by the log store through `client`: a chat core
 * needs one address for everything. Answers and errors (with their herald-field) pass through as
 * the log store gave them.
 */
export function forwardDeliveryLog(
  client: DeliveryLogServiceClient,
  timeoutMs: number,
): DeliveryLogServiceServer {
  const forward =
    <Req, Res>(method: Forwarded<Req, Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) =>
      method(call.request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
        err === null ? callback(null, res) : callback(err),
      );
  return {
    listAttempts: forward((req, md, opts, cb) => client.listAttempts(req, md, opts, cb)),
    getEventDeliveries: forward((req, md, opts, cb) => client.getEventDeliveries(req, md, opts, cb)),
    getEndpointActivity: forward((req, md, opts, cb) => client.getEndpointActivity(req, md, opts, cb)),
    listDeadDeliveries: forward((req, md, opts, cb) => client.listDeadDeliveries(req, md, opts, cb)),
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
  };
}
