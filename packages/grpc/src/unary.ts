import type { sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { NotFoundError, RetryableError, ValidationError, type Logger } from "@herald/runtime";
import { toServiceError } from "./errors.js";

/**
 * A unary gRPC handler from an async function: its result is the answer, its error goes through
 * the one error mapping. Bad input and not-found are the caller's business and not logged; a
 * dependency that is down (RetryableError) is a warning; anything else is a failure.
 */
export function unaryHandler(log: Logger, what: string) {
  return <Req, Res>(work: (req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      work(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (err instanceof RetryableError) log.warn({ err }, `${what} failed: a dependency is unavailable`);
          else if (!(err instanceof ValidationError) && !(err instanceof NotFoundError)) {
            log.error({ err }, `${what} failed`);
          }
          callback(toServiceError(err, what));
        },
      );
    };
}
