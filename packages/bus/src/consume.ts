import {
  RetryableError,
  TerminalError,
  ValidationError,
  ensureError,
  isRetryable,
  retryDelayMs,
} from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Bus } from "./connection.js";
import { ensureConsumer } from "./consumer-spec.js";
import type { ConsumerSpec } from "./consumer-spec.js";
import { aborted, sleep } from "./sleep.js";

/** One message as a handler sees it; only the consume loop touches the JsMsg. */
export interface Delivery {
  subject: string;
  data: Uint8Array;
  headers: Record<string, string>;
  /** Stream sequence. */
  seq: number;
  /** 1 on the first attempt. */
  deliveryCount: number;
  redelivered: boolean;
  /** Resets the server's ack wait, for work that runs long. */
  working(): void;
}

/** Not done and not failed: hand the message back, to come again after `delayMs` (a nak with delay). */
export interface Later {
  later: true;
  delayMs: number;
}

/** The handler's answer for a message whose time has not come (a scheduled retry, a paused endpoint). */
export function later(delayMs: number): Later {
  return { later: true, delayMs: Math.max(0, Math.ceil(delayMs)) };
}

/**
 * Resolve: done (ack). Resolve with later(): not yet (nak with that delay, nothing logged). Throw retryable:
 * try again later (nak). Throw anything else: dead (term).
 */
export type Handler = (d: Delivery, ctx: { signal: AbortSignal; log: Logger }) => Promise<void | Later>;

export interface ConsumerOptions {
  bus: Bus;
  spec: ConsumerSpec;
  /** Handlers running at once, at most. */
  concurrency: number;
  handle: Handler;
  log?: Logger;
  /** Delay before a retry when the error names none (default: exponential, 1 s to 60 s). */
  retryDelayMs?: (deliveryCount: number) => number;
  /** Records a message that will not be retried, before it is termed. */
  onDead?: (d: Delivery, err: Error) => Promise<void>;
}

export type ConsumerState = "starting" | "running" | "stopping" | "stopped";

export interface ConsumerRunner {
  readonly state: ConsumerState;
  /** Stops pulling and waits for in-flight handlers, or until `signal` aborts (their signal aborts too). */
  stop(signal?: AbortSignal): Promise<void>;
  /** Resolves once stopped. */
  readonly done: Promise<void>;
}

const RESTART_MIN_MS = 250;
const RESTART_MAX_MS = 10_000;
const MISSED_HEARTBEATS_BEFORE_RESTART = 2;
const PULL_EXPIRES_MS = 10_000;

export function defaultRetryDelayMs(deliveryCount: number): number {
  return Math.min(60_000, 1_000 * 2 ** Math.max(0, deliveryCount - 1));
}

/** Starts THE consume loop for one durable pull consumer; it runs until stop(). */
export function startConsumer(opts: ConsumerOptions): ConsumerRunner {
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
    throw new ValidationError(`concurrency must be a positive integer, got ${opts.concurrency}`, {
      field: "concurrency",
    });
  }
  return new ConsumeLoop(opts);
}

class ConsumeLoop implements ConsumerRunner {
  state: ConsumerState = "starting";
  readonly done: Promise<void>;
  private markDone!: () => void;
  private readonly log: Logger;
  private readonly retryDelay: (deliveryCount: number) => number;
  // Aborted by stop(): ends pulling and any restart pause.
  private readonly stopping = new AbortController();
  // Aborted when stop()'s own signal gives up on in-flight handlers.
  private readonly handlersAbort = new AbortController();
  private readonly handlersAborted = aborted(this.handlersAbort.signal);
  private readonly inflight = new Set<Promise<void>>();
  // Resolved whenever a handler finishes, so waiting for a free slot costs the same at any concurrency.
  private slotFreed: (() => void) | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly loopDone: Promise<void>;

  constructor(private readonly opts: ConsumerOptions) {
    this.log = (opts.log ?? opts.bus.log).child({
      stream: opts.spec.stream,
      durable: opts.spec.durable,
    });
    this.retryDelay = opts.retryDelayMs ?? defaultRetryDelayMs;
    this.done = new Promise((resolve) => (this.markDone = resolve));
    this.loopDone = this.run();
  }

  async stop(signal?: AbortSignal): Promise<void> {
    if (this.state === "stopped") return;
    if (!this.stopping.signal.aborted) {
      this.state = "stopping";
      this.stopping.abort();
      void this.messages?.close().catch(() => undefined);
      this.log.info({ inflight: this.inflight.size }, "consumer stopping");
    }
    const drained = (async () => {
      await this.loopDone;
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    })();
    await Promise.race([drained, aborted(signal), this.done]);
    // Another stop() call may have finished while this one waited.
    if ((this.state as ConsumerState) === "stopped") return;
    if (signal?.aborted) {
      this.log.warn({ inflight: this.inflight.size }, "stop deadline passed; abandoning in-flight handlers");
      this.handlersAbort.abort(signal.reason);
      this.slotFreed?.();
    }
    this.state = "stopped";
    this.log.info("consumer stopped");
    this.markDone();
  }

  private async run(): Promise<void> {
    const { bus, spec, concurrency } = this.opts;
    let restarts = 0;
    let needsEnsure = true;
    while (!this.stopping.signal.aborted) {
      try {
        if (needsEnsure) {
          await ensureConsumer(bus, spec);
          needsEnsure = false;
        }
        const consumer = await bus.js.consumers.get(spec.stream, spec.durable);
        // The buffer holds at most one round of work, so nothing waits long enough to outlive its ack wait.
        // Pulls expire every 10 s, so heartbeats come every 5 s: a consumer whose server died (a
        // stream leader killed) is noticed after two missed ones, not after nats.js's default 60 s.
        const messages = await consumer.consume({ max_messages: concurrency, expires: PULL_EXPIRES_MS });
        this.messages = messages;
        if (this.stopping.signal.aborted) {
          // Not awaited: close() settles when the iterator ends, and nothing iterates this one.
          void messages.close().catch(() => undefined);
          break;
        }
        if (this.state === "starting") this.state = "running";
        this.log.info({ concurrency }, "consuming");
        this.watchStatus(messages, () => (needsEnsure = true));
        for await (const m of messages) {
          restarts = 0;
          await this.freeSlot();
          if (this.stopping.signal.aborted) {
            m.nak(); // hand it straight to another instance
            break;
          }
          const settled: Promise<void> = this.settle(m).finally(() => {
            this.inflight.delete(settled);
            this.slotFreed?.();
          });
          this.inflight.add(settled);
        }
        const closedWith = await messages.closed();
        if (closedWith instanceof Error) throw closedWith;
        if (!this.stopping.signal.aborted) this.log.warn("consume ended; restarting");
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        // A missing consumer or stream is re-ensured on the next round.
        needsEnsure = true;
        this.log.error({ err, restarts }, "consume failed; restarting");
      }
      if (this.stopping.signal.aborted) break;
      if (bus.nc.isClosed()) {
        // A closed connection never comes back: wait quietly for stop() instead of failing in a loop.
        this.log.warn("NATS connection closed; consumer idle until stopped");
        await aborted(this.stopping.signal);
        break;
      }
      restarts++;
      await sleep(Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (restarts - 1)), this.stopping.signal);
    }
  }

  private watchStatus(messages: ConsumerMessages, lostConsumer: () => void): void {
    void (async () => {
      for await (const s of messages.status()) {
        switch (s.type) {
          case "heartbeats_missed":
            this.log.warn({ count: s.count }, "consumer heartbeats missed");
            if (s.count >= MISSED_HEARTBEATS_BEFORE_RESTART) void messages.close().catch(() => undefined);
            break;
          case "consumer_deleted":
          case "consumer_not_found":
          case "stream_not_found":
            this.log.warn({ status: s }, "consumer or stream gone; will re-ensure");
            lostConsumer();
            void messages.close().catch(() => undefined);
            break;
          case "exceeded_limits":
          case "no_responders":
            this.log.warn({ status: s }, "consumer pull refused");
            break;
          default:
            break;
        }
      }
    })();
  }

  private async freeSlot(): Promise<void> {
    while (this.inflight.size >= this.opts.concurrency && !this.handlersAbort.signal.aborted) {
      // No race with handlersAborted: each race would leave a reaction on that long-lived promise.
      await new Promise<void>((resolve) => (this.slotFreed = resolve));
    }
  }

  /** The one place where a handler's outcome becomes ack, nak or term. Never rejects. */
  private async settle(m: JsMsg): Promise<void> {
    const d = toDelivery(m);
    const log = this.log.child({ subject: d.subject, seq: d.seq, deliveryCount: d.deliveryCount });
    const { maxDeliver } = this.opts.spec;
    try {
      if (maxDeliver !== undefined && d.deliveryCount > maxDeliver) {
        // Attempts ran out earlier but dead-lettering did not finish (it failed, or the process died).
        await this.dead(m, d, new Error(`out of attempts (${maxDeliver})`), log);
        return;
      }
      let outcome: void | Later;
      try {
        outcome = await this.opts.handle(d, { signal: this.handlersAbort.signal, log });
      } catch (thrown) {
        const err = ensureError(thrown);
        if (this.handlersAbort.signal.aborted) {
          log.warn({ err }, "handler abandoned at shutdown; redelivering");
          m.nak();
        } else if (!isRetryable(err)) {
          await this.dead(m, d, err, log);
        } else if (maxDeliver !== undefined && d.deliveryCount >= maxDeliver) {
          await this.dead(m, d, err, log);
        } else {
          const delayMs = retryDelayMs(err) ?? this.retryDelay(d.deliveryCount);
          log.warn({ err, delayMs }, "handler failed; retrying later");
          m.nak(delayMs);
        }
        return;
      }
      if (outcome === undefined) m.ack();
      else m.nak(outcome.delayMs);
    } catch (err) {
      // ack/nak/term only throw when the connection is closed; the server redelivers after ack wait.
      log.error({ err }, "could not settle message");
    }
  }

  private async dead(m: JsMsg, d: Delivery, err: Error, log: Logger): Promise<void> {
    try {
      await this.opts.onDead?.(d, err);
    } catch (deadErr) {
      const delayMs = this.retryDelay(d.deliveryCount);
      log.error({ err: deadErr, cause: err, delayMs }, "dead-lettering failed; redelivering");
      m.nak(delayMs);
      return;
    }
    log.warn({ err }, "message dead");
    // No term reason: nats-server before 2.11 does not recognise "+TERM <reason>".
    m.term();
  }
}

function toDelivery(m: JsMsg): Delivery {
  const headers: Record<string, string> = {};
  if (m.headers !== undefined) {
    for (const [key, values] of m.headers) {
      const first = values[0];
      if (first !== undefined) headers[key] = first;
    }
  }
  return {
    subject: m.subject,
    data: m.data,
    headers,
    seq: m.seq,
    deliveryCount: m.info.deliveryCount,
    redelivered: m.redelivered,
    working: () => m.working(),
  };
}

/**
 * For projections: a handler whose only dead letters are TerminalErrors (an event that does not
 * decode). Any other failure, a refused check included, is a storage or publish problem of the
 * moment, so the event is retried rather than dead-lettered.
 */
export function retryAllButTerminal(handle: Handler): Handler {
  return async (d, ctx) => {
    try {
      return await handle(d, ctx);
    } catch (thrown) {
      const err = ensureError(thrown);
      if (err instanceof TerminalError || isRetryable(err)) throw err;
      throw new RetryableError(err.message, { cause: err });
    }
  };
}
