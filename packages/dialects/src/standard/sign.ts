import { createHmac } from "node:crypto";
import { InvalidWebhookHeaderError, InvalidWebhookSecretError } from "./errors.js";

const SECRET_PREFIX = "whsec_";
// Standard base64 (not base64url), padding optional: what the reference libraries decode.
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// The spec asks for 24-64 random bytes; Svix accepts up to 75, so Herald does too.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 75;
// Any character but "." keeps "{id}.{timestamp}.{body}" unambiguous; the spec forbids "." in the id.
// Room for the header form (headerId) of Herald's longest id: a 256-character CJK user id in a presence
// event's id is about 2.4 KB.
const MESSAGE_ID = /^[^.\s]{1,4096}$/;

/** The HMAC key of a `whsec_<base64>` secret; throws InvalidWebhookSecretError for anything else. */
export function decodeWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new InvalidWebhookSecretError(`must start with "${SECRET_PREFIX}"`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded)) throw new InvalidWebhookSecretError("the part after whsec_ is not base64");
  const key = Buffer.from(encoded, "base64");
  // Node ignores stray padding and trailing bits; a secret that does not round-trip was mistyped.
  const canonical = key.toString("base64");
  if (encoded !== canonical && encoded !== canonical.replace(/=+$/, "")) {
    throw new InvalidWebhookSecretError("the part after whsec_ is not canonical base64");
  }
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new InvalidWebhookSecretError(
      `decodes to ${key.length} bytes, expected ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES}`,
    );
  }
  return key;
}

/**
 * One `v1,<base64 HMAC-SHA256>` signature entry over `"{msgId}.{timestampSeconds}.{body}"`, the key being the
 * decoded bytes of a `whsec_` secret. Throws InvalidWebhookSecretError and InvalidWebhookHeaderError.
 */
export function signStandardWebhook(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  body: string,
): string {
  assertWebhookHeaders(msgId, timestampSeconds);
  const mac = createHmac("sha256", decodeWebhookSecret(secret))
    .update(`${msgId}.${timestampSeconds}.${body}`, "utf8")
    .digest("base64");
  return `v1,${mac}`;
}

function assertWebhookHeaders(msgId: string, timestampSeconds: number): void {
  if (!MESSAGE_ID.test(msgId)) {
    throw new InvalidWebhookHeaderError(
      "webhook-id",
      `${JSON.stringify(msgId)} must be 1-4096 characters without "." or whitespace`,
    );
  }
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new InvalidWebhookHeaderError(
      "webhook-timestamp",
      `${timestampSeconds} must be a non-negative integer (unix seconds)`,
    );
  }
}
