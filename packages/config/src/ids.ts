import { z } from "zod";
import { APP_ID_PATTERN } from "./app-config.js";
import { ID_PATTERN_TEXT } from "./schemas.js";

// The id rules, one definition each, read by the chat core's intake and the admin API alike. Lengths
// count Unicode code points (zod's string length), so an emoji is one character; 256 of them are at
// most 1 KiB of UTF-8.

/** An app (tenant) id: a NATS subject token and KV key, as the config defines it. */
export const appIdSchema = z.string().regex(APP_ID_PATTERN, `must be ${ID_PATTERN_TEXT}`);
/** An event id, the chat core's idempotency key; it travels in HTTP headers, hence ASCII. */
export const eventIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_:.-]{1,128}$/, "must be 1-128 characters of [A-Za-z0-9_:.-]");
/**
 * A user, room, connection, node, message or group id: the chat app's own, so any Unicode text (CJK,
 * emoji, right-to-left) but no whitespace, control characters (NUL included), lone surrogates, or the
 * NATS wildcards '*' and '>'.
 */
export const entityIdSchema = z
  .string()
  .min(1, "must not be empty")
  .max(256, "must be at most 256 characters")
  .regex(
    /^[^\s*>\p{Cc}\p{Cs}]+$/u,
    "must not contain whitespace, control characters, lone surrogates, '*' or '>'",
  );
/**
 * The chat core's operationID. It is sent as an HTTP header (OpenIM's operationID), so 0-128 visible
 * ASCII characters; empty means none (Herald makes one for a before-hook).
 */
export const operationIdSchema = z
  .string()
  .regex(
    /^[\x21-\x7e]{0,128}$/,
    "must be at most 128 visible ASCII characters (it is sent as an HTTP header)",
  );
