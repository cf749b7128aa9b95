import { z } from "zod";

/** App and endpoint ids: they are KV key tokens and NATS subject tokens, so no dots or wildcards. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const APP_ID_PATTERN = ID_PATTERN;
export const ID_PATTERN_TEXT =
  "1 to 64 of A-Z a-z 0-9 _ - (ids are NATS subject tokens and KV keys: no dots, spaces or other characters)";

export const appIdSchema = z
  .string({ error: "expected an app id" })
  .regex(APP_ID_PATTERN, { error: `expected ${ID_PATTERN_TEXT}` });
export {
  openImCommandNamesSchema as commandNamesSchema,
  openImUrlStyleSchema as urlStyleSchema,
} from "@herald/dialects";

/** How an app calls OpenIM-style URLs; endpoints of dialect openim inherit it. */
export interface OpenImUrlStyle {
  urlStyle: "path" | "query";
  commandNames: "seed" | "current";
}

/** An integer in [min, max], the message naming the unit and the bounds. */
export function intIn(min: number, max: number, unit: string) {
  const error = `expected an integer of ${unit}, ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

export const isoTimeSchema = z.iso.datetime({
  offset: true,
  error: "expected an ISO 8601 time, e.g. 2025-01-31T00:00:00Z",
});

export { typeError } from "@herald/dialects";
