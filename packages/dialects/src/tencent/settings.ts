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

export { httpUrlSchema as callbackUrlSchema } from "../zod-text.js";

/** An endpoint's `tencent` block: the app's SDKAppID, and the callback token when authentication is on. */
export const tencentEndpointSchema = z.strictObject(
  { sdkAppId: sdkAppIdSchema, token: tokenSchema.optional() },
  mapping,
);

export interface TencentEndpointSettings {
  sdkAppId: string;
  token?: string;
}
