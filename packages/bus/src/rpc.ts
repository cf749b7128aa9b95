import { createInbox, headers as natsHeaders, NoRespondersError, type Msg } from "@nats-io/nats-core";
import {
  RetryableError,
  SpanKind,
  endSpan,
  startSpan,
  type Logger,
  type TraceContext,
} from "@herald/runtime";
import type { Bus } from "./connection.js";
import { messageTrace, setTraceHeaders } from "./trace.js";
import { aborted } from "./sleep.js";

// A request/reply over a queue group where a worker may die mid-request (SIGKILL, OOM): a worker
// that has not answered within ACK_AFTER_MS acknowledges the request and names itself; while the
// caller waits it asks that worker, now and then, whether it is still there, and NATS answers
// "no responders" the moment it is gone. The request then goes again to another worker, with the
// time that is left. Quick answers (most of them) cost no acknowledgement at all.

const KIND = "Herald-Rpc";
const INSTANCE = "Herald-Instance";
const DEADLINE = "Herald-Deadline-Ms";
const ACK_AFTER_MS = 50;

/** No worker answered in time, or none is subscribed at all. */
export class RpcUnavailableError extends RetryableError {
  override name = "RpcUnavailableError";
  readonly subject: string;
  readonly reason: "no_workers" | "timeout";

  constructor(subject: string, reason: "no_workers" | "timeout", detail: string) {
    super(`${subject}: ${detail}`);
    this.subject = subject;
    this.reason = reason;
  }
}

export interface RpcRequestOptions {
  timeoutMs: number;
  /** How long an unacknowledged, unanswered request may wait before it is sent again (default 500 ms). */
  ackTimeoutMs?: number;
  /** How often a silent worker is checked while it works (default 250 ms). */
  probeIntervalMs?: number;
  /** The trace the request continues: a client span of it, whose context the worker receives. */
  trace?: TraceContext;
}

/** Sends `data` to one worker of `subject`'s queue group and resolves with its answer. */
export async function requestRpc(
  bus: Bus,
  subject: string,
  data: Uint8Array,
  opts: RpcRequestOptions,
): Promise<Uint8Array> {
  const deadline = Date.now() + opts.timeoutMs;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 500;
  const probeIntervalMs = opts.probeIntervalMs ?? 250;
  const { span, ctx } =
    opts.trace === undefined
      ? { span: undefined, ctx: undefined }
      : startSpan(`request ${subject}`, opts.trace, {
          kind: SpanKind.CLIENT,
          attributes: { "messaging.system": "nats" },
        });
  let lastProblem = "no answer";
  try {
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0)
        throw new RpcUnavailableError(subject, "timeout", `${lastProblem} within ${opts.timeoutMs} ms`);
      const attempt = await oneAttempt(bus, subject, data, remaining, ackTimeoutMs, probeIntervalMs, ctx);
      if (attempt.kind === "answer") {
        if (span !== undefined) endSpan(span);
        return attempt.data;
      }
      if (attempt.kind === "no_workers")
        throw new RpcUnavailableError(subject, "no_workers", "no worker is subscribed");
      lastProblem = attempt.problem;
    }
  } catch (err) {
    if (span !== undefined) endSpan(span, err);
    throw err;
  }
}

type Attempt =
  { kind: "answer"; data: Uint8Array } | { kind: "no_workers" } | { kind: "again"; problem: string };

function oneAttempt(
  bus: Bus,
  subject: string,
  data: Uint8Array,
  remainingMs: number,
  ackTimeoutMs: number,
  probeIntervalMs: number,
  trace: TraceContext | undefined,
): Promise<Attempt> {
  const { nc } = bus;
  return new Promise<Attempt>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let worker: string | undefined;
    const finish = (a: Attempt) => {
      clearTimeout(timer);
      close();
      resolve(a);
    };
    const wait = (ms: number, then: () => void) => {
      clearTimeout(timer);
      timer = setTimeout(then, Math.max(0, Math.min(ms, remainingMs - (Date.now() - started))));
    };
    const started = Date.now();
    const outOfTime = () => Date.now() - started >= remainingMs;

    const probe = () => {
      if (outOfTime() || worker === undefined) return finish({ kind: "again", problem: "no answer" });
      const asked = worker;
      nc.request(bus.names.subjects.worker(asked), undefined, { timeout: probeIntervalMs * 4 }).then(
        () => wait(probeIntervalMs, probe),
        (err: unknown) => {
          if (isNoResponders(err)) finish({ kind: "again", problem: `worker ${asked} went away` });
          else wait(probeIntervalMs, probe); // a slow probe is no proof of death
        },
      );
    };

    const replies = inboxOf(bus);
    const reply = replies.open((msg: Msg) => {
      if (msg.headers?.hasError && msg.headers.code === 503) return finish({ kind: "no_workers" });
      if (msg.headers?.get(KIND) === "accepted") {
        worker = msg.headers.get(INSTANCE);
        return wait(probeIntervalMs, probe);
      }
      finish({ kind: "answer", data: msg.data });
    });
    const close = () => replies.close(reply);
    const h = natsHeaders();
    h.set(DEADLINE, String(remainingMs));
    setTraceHeaders(h, trace);
    nc.publish(subject, data, { reply, headers: h });
    wait(ackTimeoutMs, () => finish({ kind: "again", problem: "no worker acknowledged the request" }));
  });
}

/**
 * One wildcard subscription per connection for every answer, as nats.js does for its own
 * requests: a subscription per request would cost the server a SUB and an UNSUB each time.
 */
class ReplyInbox {
  readonly #prefix = createInbox();
  readonly #waiting = new Map<string, (msg: Msg) => void>();
  #next = 0;
  #subscribed = false;

  constructor(private readonly bus: Bus) {}

  open(onMessage: (msg: Msg) => void): string {
    if (!this.#subscribed) {
      this.bus.nc.subscribe(`${this.#prefix}.*`, {
        callback: (err, msg) => {
          if (err) return; // the connection is closing; waiting attempts time out and go again
          this.#waiting.get(msg.subject)?.(msg);
        },
      });
      this.#subscribed = true;
    }
    const subject = `${this.#prefix}.${(this.#next++).toString(36)}`;
    this.#waiting.set(subject, onMessage);
    return subject;
  }

  close(subject: string): void {
    this.#waiting.delete(subject);
  }
}

const inboxes = new WeakMap<Bus, ReplyInbox>();

function inboxOf(bus: Bus): ReplyInbox {
  let inbox = inboxes.get(bus);
  if (inbox === undefined) {
    inbox = new ReplyInbox(bus);
    inboxes.set(bus, inbox);
  }
  return inbox;
}

function isNoResponders(err: unknown): boolean {
  return err instanceof NoRespondersError || (err instanceof Error && err.cause instanceof NoRespondersError);
}

export interface RpcContext {
  /** Time the caller still waits; work should give up before it. */
  deadlineMs: number;
  log: Logger;
  /** The trace the request carries (NO_TRACE when none). */
  trace: TraceContext;
}

export interface RpcServerOptions {
  bus: Bus;
  subject: string;
  queue: string;
  /** This worker's name, unique among its peers; subject-token safe. */
  instanceId: string;
  handle: (data: Uint8Array, ctx: RpcContext) => Promise<Uint8Array>;
  log: Logger;
}

export interface RpcServer {
  /** Resolves once the server has the subscriptions: requests sent after it reach this worker. */
  readonly ready: Promise<void>;
  /** Takes no more requests, then waits for those in hand (until `signal` aborts). */
  stop(signal?: AbortSignal): Promise<void>;
  readonly inFlight: number;
}

/** Serves requests of `subject` in queue group `queue`; see requestRpc for the protocol. */
export function serveRpc(opts: RpcServerOptions): RpcServer {
  const { nc } = opts.bus;
  const inFlight = new Set<Promise<void>>();
  const alive = nc.subscribe(opts.bus.names.subjects.worker(opts.instanceId), {
    callback: (_err, msg) => {
      msg.respond();
    },
  });
  const accepted = natsHeaders();
  accepted.set(KIND, "accepted");
  accepted.set(INSTANCE, opts.instanceId);

  const work = nc.subscribe(opts.subject, {
    queue: opts.queue,
    callback: (err, msg) => {
      if (err || !msg.reply) return;
      const reply = msg.reply;
      const answer = (data?: Uint8Array, headers?: typeof accepted) => {
        try {
          nc.publish(reply, data, { headers });
        } catch (e) {
          // The connection is closing: the caller sends the request elsewhere.
          opts.log.debug({ err: e }, "rpc answer not sent");
        }
      };
      const ack = setTimeout(() => answer(undefined, accepted), ACK_AFTER_MS);
      const deadlineMs = Number(msg.headers?.get(DEADLINE) ?? "") || 5_000;
      const job = opts
        .handle(msg.data, { deadlineMs, log: opts.log, trace: messageTrace(msg.headers) })
        .then(
          (data) => answer(data),
          (e: unknown) =>
            opts.log.error({ err: e, subject: msg.subject }, "rpc handler failed; the caller will time out"),
        )
        .finally(() => {
          clearTimeout(ack);
          inFlight.delete(job);
        });
      inFlight.add(job);
    },
  });

  return {
    ready: nc.flush(),
    get inFlight() {
      return inFlight.size;
    },
    async stop(signal) {
      // Unsubscribing the queue member first lets NATS route new requests to the other workers.
      work.unsubscribe();
      const drained = Promise.allSettled([...inFlight]);
      await Promise.race([drained, aborted(signal)]);
      alive.unsubscribe();
    },
  };
}
