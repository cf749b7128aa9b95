import { z } from "zod";
import { mapping, typeError } from "../zod-text.js";

// An SDKAppID is a number in Tencent's console; a YAML file may write it as one.
export const sdkAppIdSchema = z
  .union([z.string(), z.int()], typeError("expected an SDKAppID"))
  .transform(String)
  .refine((id) => id !== "", { error: "expected an SDKAppID, not empty" });

export const tokenSchema = z
  .string({ error: "expected a token" })
  .min(1, { error: "expected a token of 1 to 128 characters" })
  .max(128, { error: "expected a token of 1 to 128 characters" });

const MAX_URL_BYTES = 2048;

export const callbackUrlSchema = z
  .string({ error: "expected a URL" })
  .refine((text) => Buffer.byteLength(text, "utf8") <= MAX_URL_BYTES, {
    error: `expected a URL of at most ${MAX_URL_BYTES} bytes`,
    abort: true,
  })
  .refine(
    (text) => {
      try {
        const url = new URL(text);
        return url.protocol === "http:" || url.protocol === "https:";
      } catch {
        return false;
      }
    },
    { error: "expected an http or https URL" },
  );

/** An endpoint's `tencent` block: the app's SDKAppID, and the callback token when authentication is on. */
export const tencentEndpointSchema = z.strictObject(
  { sdkAppId: sdkAppIdSchema, token: tokenSchema.optional() },
  mapping,
);

export interface TencentEndpointSettings {
  sdkAppId: string;
  token?: string;
}
