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
  body: string;
  latencyMs: number;
}

export type CallResult = ({ ok: true } & Answered) | ({ ok: false; failure: CallFailure } & Answered);

const NO_HEADERS: ResponseHeaders = Object.freeze({ all: Object.freeze({}) as Record<string, string> });

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
  const signal = AbortSignal.timeout(Math.max(1, timeoutMs));
  try {
    const res = await request(spec.url, {
      method: spec.method,
      headers: spec.headers,
      body: spec.body,
      dispatcher,
      signal,
    });
    const headers = readHeaders(res.headers);
    const body = await readLimited(res.body);
    if (body === undefined) {
      return {
        ok: false,
        status: res.statusCode,
        headers,
        body: "",
        latencyMs: latency(),
        failure: { reason: "body", detail: `response larger than ${RESPONSE_LIMIT_BYTES} bytes` },
      };
    }
    return { ok: true, status: res.statusCode, headers, body, latencyMs: latency() };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      headers: NO_HEADERS,
      body: "",
      latencyMs: latency(),
      failure: classify(err, signal, timeoutMs),
    };
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

async function readLimited(body: Dispatcher.ResponseData["body"]): Promise<string | undefined> {
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
  return Buffer.concat(chunks).toString("utf8");
}

function classify(err: unknown, signal: AbortSignal, timeoutMs: number): CallFailure {
  const refused = findDestinationRefused(err);
  if (refused) return { reason: "refused", detail: refused.message };
  if (signal.aborted) return { reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
  const code = (err as { code?: string }).code ?? "";
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? "";
  if (code === "ECONNREFUSED" || cause === "ECONNREFUSED")
    return { reason: "network", detail: "connection refused" };
  if (code === "ECONNRESET" || cause === "ECONNRESET" || err instanceof errors.SocketError) {
    return { reason: "network", detail: "connection reset" };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { reason: "network", detail: code ? `${code}: ${message}` : message };
}
