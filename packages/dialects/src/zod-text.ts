import { z } from "zod";

/** A zod error option that words only a wrong type; other issues (an unknown key) keep zod's message. */
export function typeError(message: string): { error: (issue: { code?: string }) => string | undefined } {
  return { error: (issue) => (issue.code === "invalid_type" ? message : undefined) };
}

/** A mapping whose keys are all known: an unknown one is refused by name. */
export const mapping = typeError("expected a mapping");

export const nonEmptyText = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, not empty` });
