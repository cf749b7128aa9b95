import { RetryableError } from "@herald/runtime";
import { createInbox, headers as natsHeaders } from "@nats-io/nats-core";
import type { Msg } from "@nats-io/nats-core";
import type { Bus } from "./connection.js";

/** One message of a pipelined batch into a stream (an event, or a KV write). */
export interface OutgoingMessage {
  subject: string;
  data: Uint8Array;
  /** Nats-Msg-Id: stored once within the stream's duplicate window. */
  msgId?: string;
  /** Nats-Expected-Last-Subject-Sequence: compare-and-set on the subject (0: it must hold nothing). */
  expectedLastSubjectSeq?: number;
  /** KV-Operation: DEL marks a KV key deleted (with empty data). */
  kvDelete?: boolean;
  /** Any other header (Herald-Copy). */
  headers?: Record<string, string>;
}

/** What the stream answered for one message. */
export interface StreamAck {
  seq: number;
  duplicate: boolean;
}

/** A stream refused a message of the batch (a compare-and-set that failed: see isWrongRevision). */
export class StreamRefusedError extends RetryableError {
  override readonly name = "StreamRefusedError";
  constructor(
    readonly subject: string,
    readonly errCode: number,
    message: string,
  ) {
    super(`stream refused ${subject}: ${message} (${errCode})`);
  }
}

export interface PublishManyOptions {
  /** Messages sent and not yet answered, at most (default 512). */
  inFlight?: number;
  /** How long the batch may go without an answer before it fails (default 10 s). */
  idleTimeoutMs?: number;
}

/**
 * Publishes many messages into JetStream pipelined, with one reply subscription for the whole
 * batch instead of a request (a promise, a timer and a header object) per message: the hot path of
 * a projection's writes. Messages go out in order on the one connection, so a stream stores them
 * in order. Resolves with every ack in input order; rejects with the first refusal
 * (StreamRefusedError), or a RetryableError when answers stop coming.
 */
export async function publishMany(
  bus: Bus,
  messages: readonly OutgoingMessage[],
  opts: PublishManyOptions = {},
): Promise<StreamAck[]> {
  if (messages.length === 0) return [];
  const inFlight = opts.inFlight ?? 512;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 10_000;
  const inbox = createInbox();
  const acks = new Array<StreamAck>(messages.length);
  let answered = 0;
  let failure: Error | undefined;
  let progress: (() => void) | undefined;

  const sub = bus.nc.subscribe(`${inbox}.*`, {
    callback: (err: Error | null, m: Msg) => {
      if (err !== null)
        failure ??= new RetryableError(`batch replies failed: ${err.message}`, { cause: err });
      else {
        const index = Number(m.subject.slice(inbox.length + 1));
        const message = messages[index];
        if (message !== undefined && acks[index] === undefined) {
          const ack = readAck(message.subject, m);
          if (ack instanceof Error) failure ??= ack;
          else acks[index] = ack;
          answered++;
        }
      }
      progress?.();
    },
  });
  try {
    const h = natsHeaders();
    for (let i = 0; i < messages.length; i++) {
      while (i - answered >= inFlight && failure === undefined) await waitForProgress();
      if (failure !== undefined) throw failure;
      const m = messages[i] as OutgoingMessage;
      // Headers are encoded when published, so one object serves the whole batch.
      for (const key of [...h.keys()]) h.delete(key);
      if (m.msgId !== undefined) h.set("Nats-Msg-Id", m.msgId);
      if (m.expectedLastSubjectSeq !== undefined) {
        h.set("Nats-Expected-Last-Subject-Sequence", String(m.expectedLastSubjectSeq));
      }
      if (m.kvDelete === true) h.set("KV-Operation", "DEL");
      for (const [key, value] of Object.entries(m.headers ?? {})) h.set(key, value);
      bus.nc.publish(m.subject, m.data, {
        reply: `${inbox}.${i}`,
        ...(h.keys().length > 0 ? { headers: h } : {}),
      });
    }
    while (answered < messages.length && failure === undefined) await waitForProgress();
    if (failure !== undefined) throw failure;
    return acks;
  } finally {
    sub.unsubscribe();
  }

  function waitForProgress(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        failure ??= new RetryableError(
          `no answer from JetStream for ${idleTimeoutMs} ms (${answered} of ${messages.length} answered)`,
        );
        resolve();
      }, idleTimeoutMs);
      progress = () => {
        clearTimeout(timer);
        progress = undefined;
        resolve();
      };
    });
  }
}

interface AckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

function readAck(subject: string, m: Msg): StreamAck | Error {
  // No stream listens (503 no responders) or another status without a body.
  if (m.data.length === 0) {
    const status = m.headers?.code ?? 0;
    return new RetryableError(`no stream answered for ${subject} (status ${status})`);
  }
  let body: AckBody;
  try {
    body = JSON.parse(new TextDecoder().decode(m.data)) as AckBody;
  } catch {
    return new RetryableError(`unreadable answer for ${subject}`);
  }
  if (body.error !== undefined) {
    return new StreamRefusedError(subject, body.error.err_code ?? 0, body.error.description ?? "refused");
  }
  return { seq: body.seq ?? 0, duplicate: body.duplicate === true };
}
