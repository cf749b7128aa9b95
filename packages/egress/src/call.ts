import { errors, request, type Dispatcher } from "undici";
import { findDestinationRefused } from "./errors.js";
import type { GuardedAgent } from "./guarded-agent.js";
import { parseRetryAfter } from "./retry-after.js";

/** Bigger answers are not read: no business server answer needs a mebibyte. */
export const RESPONSE_LIMIT_BYTES = 1024 * 1024;

/** One request, fully rendered (a dialect's HttpRequestSpec fits): sent exactly as given. */
export interface OutboundRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Why a call got no usable answer; each caller maps it into its own vocabulary. */
export type CallFailure =
  /** No answer in time; the connection failed or broke; or the SSRF guard refused the address. */
  | { reason: "timeout" | "network" | "refused"; detail: string }
  /** A URL or header value that HTTP cannot carry: nothing was sent, and resending will not help. */
  | { reason: "request"; detail: string }
  /** An answer came, but its body was too large to read. */
  | { reason: "body"; detail: string };

/** What callers need from the answer's headers. */
export interface ResponseHeaders {
  /** From `Retry-After` (seconds or HTTP-date); absent or unreadable: undefined; in the past: 0. */
  retryAfterMs?: number;
  /** Every header, lowercased names, repeated values joined with ", " (for the attempt log). */
  all: Record<string, string>;
}

interface Answered {
  /** 0 when no answer came. A 3xx is only a status: redirects are never followed. */
  status: number;
  headers: ResponseHeaders;
  /** Decoded as UTF-8; invalid sequences read as U+FFFD (see bodyIsUtf8). */
  body: string;
  /** False when the answer's bytes were not valid UTF-8: a caller that uses the body may refuse it. */
  bodyIsUtf8: boolean;
  latencyMs: number;
  /** Where the call went when that is not the request's URL: a gRPC hook provider's `grpc://host:port`. */
  via?: string;
}

export type CallResult = ({ ok: true } & Answered) | ({ ok: false; failure: CallFailure } & Answered);

/** The headers of a call that got no answer, or of an answer that carries none worth reading. */
export const NO_HEADERS: ResponseHeaders = Object.freeze({
  all: Object.freeze({}) as Record<string, string>,
});
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
// RFC 9110 token, and field-value limited to visible ASCII, space and tab: Herald sends no obs-text
// (undici would pass it on as Latin-1), and ids go into headers in their header form.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/**
 * The one HTTP call from Herald to a business server. Never throws: every way it can fail
 * becomes a CallFailure. Any status is `ok` (judging it is the dialect's job). Only a guarded agent
 * (createGuardedAgent, createAppAgents) is accepted, so every destination is checked by the app's policy.
 */
export async function callBusinessServer(
  dispatcher: GuardedAgent,
  spec: OutboundRequest,
  timeoutMs: number,
): Promise<CallResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const problem = requestProblem(spec);
  if (problem !== undefined) {
    return unansweredCall({ reason: "request", detail: problem }, latency());
  }
  // A timer cleared once answered: AbortSignal.timeout's would stay and fire for every call made.
  const controller = new AbortController();
  const { signal } = controller;
  const timer = setTimeout(() => controller.abort(), Math.max(1, timeoutMs));
  try {
    const res = await request(spec.url, {
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      dispatcher,
      signal,
    });
    const headers = readHeaders(res.headers);
    const bytes = await readLimited(res.body);
    if (bytes === undefined) {
      return {
        ok: false,
        status: res.statusCode,
        headers,
        body: "",
        bodyIsUtf8: true,
        latencyMs: latency(),
        failure: { reason: "body", detail: `response larger than ${RESPONSE_LIMIT_BYTES} bytes` },
      };
    }
    return { ok: true, status: res.statusCode, headers, ...decodeBody(bytes), latencyMs: latency() };
  } catch (err) {
    return unansweredCall(classify(err, signal, timeoutMs), latency());
  } finally {
    clearTimeout(timer);
  }
}

/** A call that got no answer: why, and how long it took to find out. */
export function unansweredCall(failure: CallFailure, latencyMs: number): CallResult {
  return { ok: false, status: 0, headers: NO_HEADERS, body: "", bodyIsUtf8: true, latencyMs, failure };
}

/** What makes a request unsendable, naming the part; undefined when it can go. */
function requestProblem(spec: OutboundRequest): string | undefined {
  let url: URL;
  try {
    url = new URL(spec.url);
  } catch {
    return `url: ${JSON.stringify(spec.url.slice(0, 200))} is not a URL`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `url: scheme ${url.protocol} is not http or https`;
  for (const [name, value] of Object.entries(spec.headers)) {
    if (!HEADER_NAME.test(name)) return `header ${JSON.stringify(name)}: not a header name`;
    if (!HEADER_VALUE.test(value)) return `header ${name}: its value has characters a header cannot carry`;
  }
  return undefined;
}

function decodeBody(bytes: Buffer): { body: string; bodyIsUtf8: boolean } {
  try {
    return { body: STRICT_UTF8.decode(bytes), bodyIsUtf8: true };
  } catch {
    return { body: bytes.toString("utf8"), bodyIsUtf8: false };
  }
}

function readHeaders(raw: Record<string, string | string[] | undefined>): ResponseHeaders {
  const all: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) all[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  const retryAfterMs = parseRetryAfter(all["retry-after"]);
  return retryAfterMs === undefined ? { all } : { retryAfterMs, all };
}

async function readLimited(body: Dispatcher.ResponseData["body"]): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > RESPONSE_LIMIT_BYTES) {
      body.destroy();
      return undefined;
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function classify(err: unknown, signal: AbortSignal, timeoutMs: number): CallFailure {
  const refused = findDestinationRefused(err);
  if (refused) return { reason: "refused", detail: refused.message };
  if (signal.aborted) return { reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
  const code = (err as { code?: string }).code ?? "";
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? "";
  // What requestProblem did not foresee but undici still refused to send.
  if (code === "UND_ERR_INVALID_ARG" || code === "ERR_INVALID_URL") {
    return { reason: "request", detail: err instanceof Error ? err.message : code };
  }
  if (code === "ECONNREFUSED" || cause === "ECONNREFUSED")
    return { reason: "network", detail: "connection refused" };
  if (code === "ECONNRESET" || cause === "ECONNRESET" || err instanceof errors.SocketError) {
    return { reason: "network", detail: "connection reset" };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { reason: "network", detail: code ? `${code}: ${message}` : message };
}
