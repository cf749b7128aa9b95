import { createHmac } from "node:crypto";
import { bytesEqual } from "./constant-time.js";
import { SignatureError } from "./errors.js";
import { headerValues, type IncomingHeaders } from "./headers.js";

export interface VerifyStandardWebhookInput {
  headers: IncomingHeaders;
  /** The raw bytes received: re-serialised JSON will not verify. */
  body: string | Uint8Array;
  /** Every secret currently valid for the endpoint (`whsec_<base64>`); several during rotation. */
  secrets: readonly string[];
  nowSeconds?: number;
  toleranceSeconds?: number;
}

const DEFAULT_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = "whsec_";
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HMAC_SHA256_BYTES = 32;

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) throw new TypeError("Standard Webhooks secret is not whsec_ + base64");
  return Buffer.from(encoded, "base64");
}

function singleHeader(headers: IncomingHeaders, name: string): string {
  const values = headerValues(headers, name);
  const [value] = values;
  if (value === undefined || value === "") throw new SignatureError("missing", `no ${name} header`);
  if (values.length > 1) throw new SignatureError("malformed", `${name} header given ${values.length} times`);
  return value;
}

/** The `v1` signatures of a `webhook-signature` header; other schemes (`v1a`) are skipped. */
function v1Signatures(headers: IncomingHeaders): Buffer[] {
  const entries = headerValues(headers, "webhook-signature")
    .flatMap((value) => value.split(" "))
    .filter((entry) => entry !== "");
  if (entries.length === 0) throw new SignatureError("missing", "no webhook-signature header");
  const signatures: Buffer[] = [];
  for (const entry of entries) {
    const comma = entry.indexOf(",");
    if (comma <= 0)
      throw new SignatureError("malformed", `signature entry "${entry}" is not version,signature`);
    const encoded = entry.slice(comma + 1);
    if (entry.slice(0, comma) !== "v1") continue;
    if (!BASE64.test(encoded)) throw new SignatureError("malformed", "v1 signature is not base64");
    signatures.push(Buffer.from(encoded, "base64"));
  }
  if (signatures.length === 0) throw new SignatureError("malformed", "webhook-signature has no v1 entry");
  return signatures;
}

/** Verifies a Standard Webhooks (v1, HMAC-SHA256) request; throws SignatureError, returns on success. */
export function verifyStandardWebhook(input: VerifyStandardWebhookInput): void {
  if (input.secrets.length === 0) throw new TypeError("verifyStandardWebhook needs at least one secret");
  const keys = input.secrets.map(secretKey);

  const id = singleHeader(input.headers, "webhook-id");
  const timestamp = singleHeader(input.headers, "webhook-timestamp");
  const signatures = v1Signatures(input.headers);

  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new SignatureError("malformed", "webhook-timestamp is not integer Unix seconds");
  }
  const sentAt = Number(timestamp);
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (now - sentAt > tolerance)
    throw new SignatureError("stale", `timestamp ${sentAt} is older than ${tolerance}s`);
  if (sentAt - now > tolerance)
    throw new SignatureError("future", `timestamp ${sentAt} is ahead by over ${tolerance}s`);

  const signedContent = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), Buffer.from(input.body)]);
  for (const key of keys) {
    const expected = createHmac("sha256", key).update(signedContent).digest();
    // Check every candidate without early exit so timing does not reveal which entry matched.
    let matched = false;
    for (const signature of signatures) {
      if (signature.length === HMAC_SHA256_BYTES && bytesEqual(signature, expected)) matched = true;
    }
    if (matched) return;
  }
  throw new SignatureError("mismatch", "no v1 signature matches any secret");
}
