import { natsUnanswered } from "@herald/bus";
import { unaryHandler } from "@herald/grpc";
import { ValidationError, type Logger } from "@herald/runtime";

/**
 * A query answered from state in NATS KV: as unaryHandler, and a NATS that did not answer is
 * UNAVAILABLE naming what was being read ("reading chatroom state: NATS did not answer"), not an
 * internal error.
 */
export function queryHandler(log: Logger, what: string) {
  const answer = unaryHandler(log, `${what} query`);
  return <Req, Res>(work: (req: Req) => Promise<Res>) =>
    answer<Req, Res>((req) =>
      work(req).catch((err: unknown) => {
        throw natsUnanswered(err, `reading ${what} state`);
      }),
    );
}

/** Refuses an empty required field, naming it as the proto spells it. */
export function required(field: string, value: string): void {
  if (value === "") throw new ValidationError(`${field}: must not be empty`, { field });
}
