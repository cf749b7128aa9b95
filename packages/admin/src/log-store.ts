import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import {
  type DeliveryLogServiceClient,
  type GetEndpointActivityRequest,
  type GetEndpointActivityResponse,
  type GetEventDeliveriesRequest,
  type GetEventDeliveriesResponse,
  type GetOverviewRequest,
  type GetOverviewResponse,
  type ListAttemptsRequest,
  type ListAttemptsResponse,
  type ListDeadDeliveriesRequest,
  type ListDeadDeliveriesResponse,
  type ListDeliveriesRequest,
  type ListDeliveriesResponse,
} from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { AdminHttpError, notFound, unavailable } from "./errors.js";

/** What the gateway logs and answers when the log store refuses its token (admin API and forwarded gRPC). */
export const LOG_STORE_REFUSED_GATEWAY =
  "the log store refused the gateway's credentials: check LOGSTORE_AUTH_TOKEN and LOGSTORE_TLS_*";

/** The log store's queries as promises, its gRPC failures already turned into admin API errors. */
export interface LogStore {
  listAttempts(req: ListAttemptsRequest): Promise<ListAttemptsResponse>;
  getEventDeliveries(req: GetEventDeliveriesRequest): Promise<GetEventDeliveriesResponse>;
  getEndpointActivity(req: GetEndpointActivityRequest): Promise<GetEndpointActivityResponse>;
  listDeadDeliveries(req: ListDeadDeliveriesRequest): Promise<ListDeadDeliveriesResponse>;
  getOverview(req: GetOverviewRequest): Promise<GetOverviewResponse>;
  listDeliveries(req: ListDeliveriesRequest): Promise<ListDeliveriesResponse>;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type Unary<Req, Res> = (
  req: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: Callback<Res>,
) => unknown;

/** The log store's queries through `client`; calls give up after `timeoutMs`. The caller closes the client. */
export function logStoreQueries(client: DeliveryLogServiceClient, timeoutMs = 10_000): LogStore {
  const call =
    <Req, Res>(method: Unary<Req, Res>) =>
    (req: Req): Promise<Res> =>
      new Promise((resolve, reject) => {
        method(req, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) =>
          err === null ? resolve(res) : reject(fromGrpc(err)),
        );
      });
  return {
    listAttempts: call<ListAttemptsRequest, ListAttemptsResponse>((req, md, opts, cb) =>
      client.listAttempts(req, md, opts, cb),
    ),
    getEventDeliveries: call<GetEventDeliveriesRequest, GetEventDeliveriesResponse>((req, md, opts, cb) =>
      client.getEventDeliveries(req, md, opts, cb),
    ),
    getEndpointActivity: call<GetEndpointActivityRequest, GetEndpointActivityResponse>((req, md, opts, cb) =>
      client.getEndpointActivity(req, md, opts, cb),
    ),
    listDeadDeliveries: call<ListDeadDeliveriesRequest, ListDeadDeliveriesResponse>((req, md, opts, cb) =>
      client.listDeadDeliveries(req, md, opts, cb),
    ),
    getOverview: call<GetOverviewRequest, GetOverviewResponse>((req, md, opts, cb) =>
      client.getOverview(req, md, opts, cb),
    ),
    listDeliveries: call<ListDeliveriesRequest, ListDeliveriesResponse>((req, md, opts, cb) =>
      client.listDeliveries(req, md, opts, cb),
    ),
  };
}

/**
 * The log store's answer as the admin API's: bad input stays bad input (naming the field in the API's
 * camelCase), a missing thing 404, the store down or slow 503; anything else is the store's fault.
 */
export function fromGrpc(err: ServiceError): Error {
  const details = err.details || err.message;
  switch (err.code) {
    case status.INVALID_ARGUMENT: {
      const field = fieldOf(err, details);
      return new ValidationError(details, { field, cause: err });
    }
    case status.NOT_FOUND:
      return notFound(fieldOf(err, details), details);
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return unavailable(`log store unavailable: ${details}`, err);
    case status.UNAUTHENTICATED:
      return new AdminHttpError(502, "unavailable", LOG_STORE_REFUSED_GATEWAY, { cause: err });
    default:
      return new AdminHttpError(502, "unavailable", `log store failed: ${details}`, { cause: err });
  }
}

// The gateway's gRPC services put the field in "herald-field"; otherwise the message starts with it.
function fieldOf(err: ServiceError, details: string): string {
  const header = err.metadata?.get("herald-field")[0];
  const raw =
    typeof header === "string" && header !== "" ? header : /^([a-z_][a-z0-9_.]*):/i.exec(details)?.[1];
  return raw === undefined ? "" : raw.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}
