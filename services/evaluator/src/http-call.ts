import { errors, request, type Dispatcher } from "undici";
import type { CallbackFailure, HttpRequestSpec } from "@herald/dialects";

/** Bigger answers are not read: no before-hook answer needs a mebibyte. */
export const RESPONSE_LIMIT_BYTES = 1024 * 1024;

export type CallResult =
  | { ok: true; status: number; body: string; latencyMs: number }
  | { ok: false; failure: CallbackFailure; status: number; body: string; latencyMs: number };

/** One POST to a business server, never throwing: every way it can fail becomes a CallbackFailure. */
export async function callBusinessServer(
  dispatcher: Dispatcher,
  spec: HttpRequestSpec,
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
    const body = await readLimited(res.body);
    if (body === undefined) {
      return {
        ok: false,
        status: res.statusCode,
        body: "",
        latencyMs: latency(),
        failure: { reason: "body", detail: `response larger than ${RESPONSE_LIMIT_BYTES} bytes` },
      };
    }
    return { ok: true, status: res.statusCode, body, latencyMs: latency() };
  } catch (err) {
    return {
      ok: false,
      status: 0,
      body: "",
      latencyMs: latency(),
      failure: classify(err, signal, timeoutMs),
    };
  }
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

function classify(err: unknown, signal: AbortSignal, timeoutMs: number): CallbackFailure {
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
