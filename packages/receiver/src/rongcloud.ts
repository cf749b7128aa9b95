import { createHash } from "node:crypto";
import { bytesEqual } from "./constant-time.js";
import { SignatureError } from "./errors.js";

export interface VerifyRongCloudInput {
  /** The request URL as received (path + query is enough); the signature travels in its query. */
  url: string;
  /** The app secret; several during rotation, any match passes. */
  appSecret: string | readonly string[];
  /** When given, the query's appKey must equal it. */
  appKey?: string;
  nowMs?: number;
  toleranceMs?: number;
}

// RongCloud defines no window; five minutes matches the Standard Webhooks default.
const DEFAULT_TOLERANCE_MS = 300_000;

function requiredParam(query: URLSearchParams, ...names: string[]): string {
  for (const name of names) {
    const value = query.get(name);
    if (value !== null && value !== "") return value;
  }
  throw new SignatureError("missing", `no ${names.join(" or ")} query parameter`);
}

/**
 * Verifies RongCloud's callback signature: hex(sha1(appSecret + nonce + timestamp)) in the query.
 * It does not cover the body, so it authenticates the sender but not the content.
 */
export function verifyRongCloud(input: VerifyRongCloudInput): void {
  const secrets = typeof input.appSecret === "string" ? [input.appSecret] : input.appSecret;
  if (secrets.length === 0) throw new TypeError("verifyRongCloud needs at least one appSecret");
  const query = new URL(input.url, "http://receiver.invalid").searchParams;

  const nonce = requiredParam(query, "nonce");
  // Current docs name it `timestamp`; the v3 docs say `signTimestamp`.
  const timestamp = requiredParam(query, "timestamp", "signTimestamp");
  const signature = requiredParam(query, "signature");
  if (input.appKey !== undefined && requiredParam(query, "appKey") !== input.appKey) {
    throw new SignatureError("mismatch", "appKey does not match");
  }
  if (!/^\d{1,16}$/.test(timestamp)) throw new SignatureError("malformed", "timestamp is not integer ms");
  if (!/^[0-9a-fA-F]{40}$/.test(signature)) throw new SignatureError("malformed", "signature is not 40 hex");

  const sentAtMs = Number(timestamp);
  const now = input.nowMs ?? Date.now();
  const tolerance = input.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  if (now - sentAtMs > tolerance)
    throw new SignatureError("stale", `timestamp ${sentAtMs} is older than ${tolerance}ms`);
  if (sentAtMs - now > tolerance) {
    throw new SignatureError("future", `timestamp ${sentAtMs} is ahead by over ${tolerance}ms`);
  }

  const received = Buffer.from(signature.toLowerCase(), "hex");
  let matched = false;
  for (const secret of secrets) {
    const expected = createHash("sha1").update(`${secret}${nonce}${timestamp}`).digest();
    if (bytesEqual(received, expected)) matched = true;
  }
  if (!matched) throw new SignatureError("mismatch", "signature matches no appSecret");
}
