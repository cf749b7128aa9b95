import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** One callback a request carried: its ordering key, its place in the key's event order, its identity. */
export interface Callback {
  key: string;
  /** 0 for the key's first event, 1 for the next... */
  seq: number;
  /** The same on every repeat of the callback (a delivery id, a record's room and time). */
  id: string;
}

export interface CallbackRequest {
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface Answer {
  status: number;
  body?: string;
}

/** How the server answers a request: at once, after a delay, or whenever the promise settles. */
export type AnswerPolicy = (
  callbacks: readonly Callback[],
  request: CallbackRequest,
) => Answer | Promise<Answer>;

export interface OrderingServer {
  url: string;
  /** Every callback recognised, in order of arrival (a batch's in its array order), repeats included. */
  readonly arrivals: readonly Callback[];
  /** Requests that carried no callback `identify` knew (probes). */
  readonly strangers: number;
  /** Whether a callback has arrived at least once. */
  seen(id: string): boolean;
  /**
   * Each time a callback arrived while an earlier request carrying a callback of the same key was still
   * unanswered (the receiver could have handled them in either order).
   */
  readonly overlaps: readonly string[];
  answerWith(policy: AnswerPolicy): void;
  close(): Promise<void>;
}

/** Answers 200 after a random 0..maxDelayMs, so that requests of different keys overlap. */
export function randomDelay(maxDelayMs: number): AnswerPolicy {
  return () =>
    new Promise((resolve) =>
      setTimeout(() => resolve({ status: 200 }), Math.floor(Math.random() * maxDelayMs)),
    );
}

/**
 * A business server that knows which key each callback belongs to (via `identify`), and watches the
 * two promises of ordered delivery as a receiver would see them: per key, callbacks first arrive in
 * event order, and none starts while an earlier one of its key is unanswered.
 */
export async function startOrderingServer(
  identify: (request: CallbackRequest) => Callback[],
  policy: AnswerPolicy = randomDelay(5),
): Promise<OrderingServer> {
  const arrivals: Callback[] = [];
  const seenIds = new Set<string>();
  const overlaps: string[] = [];
  /** key -> ids of the callbacks of that key in requests not yet answered */
  const inFlight = new Map<string, string[]>();
  const sockets = new Set<Socket>();
  let strangers = 0;
  let answer = policy;

  const start = (callbacks: readonly Callback[]): void => {
    // Records of one key in one array are in order by the array itself (RongCloud batches): only a
    // record of an earlier request still unanswered is an overlap.
    const sameRequest = new Set(callbacks.map((c) => c.id));
    for (const c of callbacks) {
      const open = inFlight.get(c.key) ?? [];
      const earlier = open.filter((id) => !sameRequest.has(id));
      if (earlier.length > 0)
        overlaps.push(`${c.key}: #${c.seq} (${c.id}) arrived while ${earlier.join(", ")} unanswered`);
      open.push(c.id);
      inFlight.set(c.key, open);
      arrivals.push(c);
      seenIds.add(c.id);
    }
  };
  const finish = (callbacks: readonly Callback[]): void => {
    for (const c of callbacks) {
      const open = inFlight.get(c.key) ?? [];
      const at = open.indexOf(c.id);
      if (at >= 0) open.splice(at, 1);
      if (open.length === 0) inFlight.delete(c.key);
    }
  };

  const handle = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    const request: CallbackRequest = { headers: req.headers, text };
    const callbacks = identify(request);
    if (callbacks.length === 0) strangers += 1;
    start(callbacks);
    let done = false;
    // A request the client gave up on (a deliverer killed) is no longer in flight.
    res.once("close", () => {
      if (!done) finish(callbacks);
      done = true;
    });
    void Promise.resolve(answer(callbacks, request))
      .catch((): Answer => ({ status: 500, body: "answer policy failed" }))
      .then(({ status, body }) => {
        if (done) return;
        // Finished before the bytes leave: the next request of the key cannot arrive before this.
        done = true;
        finish(callbacks);
        res.writeHead(status, { "content-type": "application/json" });
        res.end(body ?? "{}");
      });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("ordering server: no TCP address");

  return {
    url: `http://127.0.0.1:${address.port}`,
    arrivals,
    get strangers() {
      return strangers;
    },
    seen: (id) => seenIds.has(id),
    overlaps,
    answerWith(next) {
      answer = next;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Per key, the seqs of its callbacks in the order each first arrived. */
export function firstArrivals(arrivals: readonly Callback[]): Map<string, number[]> {
  const seen = new Set<string>();
  const out = new Map<string, number[]>();
  for (const c of arrivals) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    const seqs = out.get(c.key) ?? [];
    seqs.push(c.seq);
    out.set(c.key, seqs);
  }
  return out;
}

/** The keys whose callbacks did not first arrive in event order, each with the order they came in. */
export function outOfOrder(arrivals: readonly Callback[]): string[] {
  const out: string[] = [];
  for (const [key, seqs] of firstArrivals(arrivals)) {
    if (seqs.some((seq, i) => i > 0 && seq < seqs[i - 1]!)) out.push(`${key}: ${seqs.join(",")}`);
  }
  return out;
}
