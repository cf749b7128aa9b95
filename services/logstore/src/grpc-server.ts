import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from "@grpc/grpc-js";
import { DeliveryLogServiceService, type DeliveryLogServiceServer } from "@herald/proto";
import { NotFoundError, RetryableError, ValidationError, ensureError, type Logger } from "@herald/runtime";

export interface GrpcServer {
  readonly address: string;
  /** Stops taking calls and waits for those in flight; forces the rest closed when signal aborts. */
  shutdown(signal: AbortSignal): Promise<void>;
}

/** Serves DeliveryLogService on host:port (0: any free port). */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  service: DeliveryLogServiceServer;
  log: Logger;
}): Promise<GrpcServer> {
  const server = new Server();
  server.addService(DeliveryLogServiceService, opts.service);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    address: `${opts.host}:${port}`,
    shutdown: (signal) =>
      new Promise<void>((resolve) => {
        const force = () => {
          opts.log.warn("grpc calls still open at the deadline: closing them");
          server.forceShutdown();
          resolve();
        };
        if (signal.aborted) return force();
        signal.addEventListener("abort", force, { once: true });
        server.tryShutdown(() => {
          signal.removeEventListener("abort", force);
          resolve();
        });
      }),
  };
}

/** Herald's error taxonomy as gRPC status codes (the gateway maps them the same way). */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const e = ensureError(err);
  const metadata = new Metadata();
  let code = status.INTERNAL;
  if (e instanceof ValidationError) {
    code = status.INVALID_ARGUMENT;
    metadata.set("herald-field", e.field);
  } else if (e instanceof NotFoundError) {
    code = status.NOT_FOUND;
  } else if (e instanceof RetryableError) {
    code = status.UNAVAILABLE;
  }
  // Internal details stay in the log; the caller learns only that it was not its fault.
  const details = code === status.INTERNAL ? "internal error" : e.message;
  return { code, details, metadata, message: details };
}

/** A unary handler from an async function; failures other than bad input and not-found are logged. */
export function unary(log: Logger, method: string) {
  return <Req, Res>(work: (req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      work(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof RetryableError) log.warn({ err, method }, "query failed: database unavailable");
          else if (!(err instanceof ValidationError) && !(err instanceof NotFoundError)) {
            log.error({ err, method }, "query failed");
          }
          callback(toServiceError(err));
        },
      );
    };
}
