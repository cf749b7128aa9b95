import type { sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { NotFoundError, ValidationError, type Logger } from "@herald/runtime";
import { toServiceError } from "./grpc-errors.js";

/**
 * A unary gRPC handler from an async function: its result is the answer, its error goes through
 * the one error mapping; errors other than bad input and not-found are logged as failures.
 */
export function queryHandler(log: Logger, what: string) {
  return <Req, Res>(work: (req: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      work(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (!(err instanceof ValidationError) && !(err instanceof NotFoundError)) {
            log.error({ err }, `${what} query failed`);
          }
          callback(toServiceError(err));
        },
      );
    };
}

/** Refuses an empty required field, naming it as the proto spells it. */
export function required(field: string, value: string): void {
  if (value === "") throw new ValidationError(`${field}: must not be empty`, { field });
}
