import { createHash } from "node:crypto";

/** `hex(sha256(token + RequestTime))`: a plain concatenation (not an HMAC); the body is not covered. */
export function tencentSign(token: string, requestTimeSeconds: number): string {
  return createHash("sha256").update(`${token}${requestTimeSeconds}`, "utf8").digest("hex");
}

export interface TencentQuery {
  sdkAppId: string;
  command: string;
  clientIp: string;
  optPlatform: string;
  /** When set, the URL is signed: `Sign` and `RequestTime` are appended. */
  token?: string | undefined;
  requestTimeSeconds: number;
}

/**
 * The callback URL with Tencent's query parameters in its documented order: SdkAppid, CallbackCommand,
 * contenttype, ClientIP, OptPlatform, then Sign and RequestTime when a token is set.
 */
export function tencentUrl(baseUrl: string, query: TencentQuery): string {
  const pairs: Array<[string, string]> = [
    ["SdkAppid", query.sdkAppId],
    ["CallbackCommand", query.command],
    ["contenttype", "json"],
    ["ClientIP", query.clientIp],
    ["OptPlatform", query.optPlatform],
  ];
  if (query.token !== undefined) {
    pairs.push(["Sign", tencentSign(query.token, query.requestTimeSeconds)]);
    pairs.push(["RequestTime", String(query.requestTimeSeconds)]);
  }
  const text = pairs.map(([name, value]) => `${name}=${encodeURIComponent(value)}`).join("&");
  return `${withQuerySeparator(baseUrl)}${text}`;
}

function withQuerySeparator(url: string): string {
  if (!url.includes("?")) return `${url}?`;
  return url.endsWith("?") || url.endsWith("&") ? url : `${url}&`;
}
