import { z } from "zod";

/** A zod error option that words only a wrong type; other issues (an unknown key) keep zod's message. */
export function typeError(message: string): { error: (issue: { code?: string }) => string | undefined } {
  return { error: (issue) => (issue.code === "invalid_type" ? message : undefined) };
}

/** A mapping whose keys are all known: an unknown one is refused by name. */
export const mapping = typeError("expected a mapping");

export const nonEmptyText = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, not empty` });

/** The longest callback URL Herald takes, in UTF-8 bytes (it travels in headers, KV values and logs). */
export const MAX_URL_BYTES = 2048;

/** A business server's URL: http or https, at most MAX_URL_BYTES. Where it may point is egress's check. */
export const httpUrlSchema = z
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
    { error: "expected an http:// or https:// URL" },
  );
