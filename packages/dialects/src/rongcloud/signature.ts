import { createHash } from "node:crypto";

export interface RongCloudSignatureOptions {
  appKey: string;
  appSecret: string;
  /** RongCloud sends at most 18 characters. */
  nonce: string;
  /** Epoch milliseconds, sent as `timestamp`. */
  timestampMs: number;
}

/** `hex(sha1(appSecret + nonce + timestamp))`: a plain concatenation, 40 lowercase hex characters. */
export function rongCloudSignature(appSecret: string, nonce: string, timestampMs: number): string {
  return createHash("sha1").update(`${appSecret}${nonce}${timestampMs}`, "utf8").digest("hex");
}

/**
 * The callback URL with RongCloud's query parameters appended in seed 001's order:
 * `appKey`, `timestamp`, `nonce`, `signature`. The signature does not cover the body.
 */
export function rongCloudSignedUrl(baseUrl: string, opts: RongCloudSignatureOptions): string {
  const signature = rongCloudSignature(opts.appSecret, opts.nonce, opts.timestampMs);
  const query = [
    ["appKey", opts.appKey],
    ["timestamp", String(opts.timestampMs)],
    ["nonce", opts.nonce],
    ["signature", signature],
  ]
    .map(([name, value = ""]) => `${name}=${encodeURIComponent(value)}`)
    .join("&");
  return `${withQuerySeparator(baseUrl)}${query}`;
}

function withQuerySeparator(url: string): string {
  if (!url.includes("?")) return `${url}?`;
  return url.endsWith("?") || url.endsWith("&") ? url : `${url}&`;
}
