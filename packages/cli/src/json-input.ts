import { readFileSync } from "node:fs";
import { UsageError } from "./errors.js";

/** A file's text, "-" for stdin; an error naming `flag` when it cannot be read. */
export function readInput(path: string, flag = "--file"): string {
  try {
    return readFileSync(path === "-" ? 0 : path, "utf8");
  } catch (err) {
    throw new UsageError(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * A JSON object given inline (`inlineFlag`, e.g. --payload) or from --file, at most one of them;
 * undefined when neither is given. Returns the text as given (the bytes to send) and its value.
 */
export function jsonObjectInput(
  inline: string | undefined,
  file: string | undefined,
  inlineFlag: string,
): { text: string; value: Record<string, unknown> } | undefined {
  if (inline !== undefined && file !== undefined) {
    throw new UsageError(inlineFlag, `give ${inlineFlag} or --file, not both`);
  }
  if (inline === undefined && file === undefined) return undefined;
  const flag = inline === undefined ? "--file" : inlineFlag;
  const text = inline ?? readInput(file ?? "-");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(flag, `is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(flag, "expected a JSON object");
  }
  return { text, value: value as Record<string, unknown> };
}
