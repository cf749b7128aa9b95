import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { FixtureStartError, WaitTimeoutError } from "./errors.js";

export interface RecordedRequest {
  method: string;
  /** Path and query exactly as the client sent them. */
  url: string;
  path: string;
  query: Record<string, string>;
  /** Lowercased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** The body decoded as UTF-8. */
  text: string;
  json<T = unknown>(): T;
  /** Date.now() when the whole request had arrived. */
  receivedAt: number;
}

export type Reply =
  // An object body is sent as JSON, except a Buffer/Uint8Array, which is sent as its bytes.
  | {
      status?: number;
      body?: string | object;
      headers?: Record<string, string>;
      delayMs?: number;
      /** Held until this settles (a business server that answers when the test lets it). */
      after?: Promise<unknown>;
    }
  | { hang: true }
  | { reset: true };

export interface RecordingServer {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Queue replies; each request takes the next one, and the fallback answers when none is left. */
  reply(...replies: Reply[]): void;
  /** Answers once the script is used up (default: 200 with an empty body). */
  fallback(reply: Reply | ((req: RecordedRequest) => Reply)): void;
  /** Resolves with the first `count` requests once that many have arrived (default timeout 20 s). */
  waitForRequests(count: number, opts?: { timeoutMs?: number }): Promise<RecordedRequest[]>;
  /** Forgets recorded requests and queued replies; the fallback stays. */
  clear(): void;
  /** Stops listening and ends every open connection, hanging requests included. */
  close(): Promise<void>;
}

const DEFAULT_REPLY: Reply = { status: 200, body: "" };
// Long enough for a loaded 2-core machine; a test's own limit (30 s) is longer, so this names what was awaited.
const DEFAULT_WAIT_MS = 20_000;

/** A stand-in for a business server: records every request exactly and answers from a script. */
export async function startRecordingServer(): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const script: Reply[] = [];
  let fallback: Reply | ((req: RecordedRequest) => Reply) = DEFAULT_REPLY;
  const arrivalListeners = new Set<() => void>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded = record(req, Buffer.concat(chunks));
      requests.push(recorded);
      for (const notify of [...arrivalListeners]) notify();
      const next = script.shift() ?? (typeof fallback === "function" ? fallback(recorded) : fallback);
      answer(next, req, res);
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  function answer(reply: Reply, req: IncomingMessage, res: ServerResponse): void {
    if ("hang" in reply) return;
    if ("reset" in reply) {
      // A TCP RST, so the client sees ECONNRESET rather than a clean close.
      req.socket.resetAndDestroy();
      return;
    }
    const send = (): void => {
      const { body } = reply;
      const isJson = typeof body === "object" && !(body instanceof Uint8Array);
      const payload = isJson ? JSON.stringify(body) : (body ?? "");
      const headers = lowercaseKeys(reply.headers ?? {});
      if (isJson && headers["content-type"] === undefined) headers["content-type"] = "application/json";
      res.writeHead(reply.status ?? 200, headers);
      res.end(payload);
    };
    if (reply.after !== undefined) {
      // A request whose client gave up, or that close() ended, is not answered.
      void reply.after.then(() => {
        if (!res.destroyed) send();
      });
      return;
    }
    if (reply.delayMs === undefined || reply.delayMs <= 0) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      send();
    }, reply.delayMs);
    pendingTimers.add(timer);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new FixtureStartError(`recording server could not listen: ${err.message}`, "recording-server")),
    );
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("recording server: no TCP address");
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    port: address.port,
    requests,
    reply: (...replies) => {
      script.push(...replies);
    },
    fallback: (reply) => {
      fallback = reply;
    },
    waitForRequests: (count, opts = {}) => {
      const timeoutMs = opts.timeoutMs ?? DEFAULT_WAIT_MS;
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          if (requests.length < count) return false;
          arrivalListeners.delete(check);
          clearTimeout(timer);
          resolve(requests.slice(0, count));
          return true;
        };
        const timer = setTimeout(() => {
          arrivalListeners.delete(check);
          const seen = requests.map((r) => `${r.method} ${r.url}`).join(", ");
          reject(
            new WaitTimeoutError(
              `timed out after ${timeoutMs} ms waiting for ${count} request(s) to ${url}; ` +
                `${requests.length} arrived${seen ? `: ${seen}` : ""}`,
              timeoutMs,
            ),
          );
        }, timeoutMs);
        if (!check()) arrivalListeners.add(check);
      });
    },
    clear: () => {
      requests.length = 0;
      script.length = 0;
    },
    close: async () => {
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function record(req: IncomingMessage, body: Buffer): RecordedRequest {
  const rawUrl = req.url ?? "/";
  const parsed = new URL(rawUrl, "http://recording.invalid");
  const text = body.toString("utf8");
  return {
    method: req.method ?? "",
    url: rawUrl,
    path: parsed.pathname,
    query: Object.fromEntries(parsed.searchParams),
    headers: headersFromRaw(req.rawHeaders),
    body,
    text,
    json: <T>() => JSON.parse(text) as T,
    receivedAt: Date.now(),
  };
}

// rawHeaders keeps every value; req.headers drops repeats of some names (user-agent, content-type...).
function headersFromRaw(rawHeaders: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    const previous = headers[name];
    headers[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return headers;
}

function lowercaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
