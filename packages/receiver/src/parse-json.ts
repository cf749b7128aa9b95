import type { z } from "zod";
import { PayloadError } from "./errors.js";

function fieldPath(path: readonly PropertyKey[]): string {
  let field = "";
  for (const key of path) {
    if (typeof key === "number") field += `[${key}]`;
    else field += field === "" ? String(key) : `.${String(key)}`;
  }
  return field === "" ? "(root)" : field;
}

export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (cause) {
    throw new PayloadError("(body)", "not valid JSON", { cause });
  }
}

/** Validates `value` with `schema`, throwing a PayloadError that names the first bad field. */
export function validate<Schema extends z.ZodType>(
  schema: Schema,
  value: unknown,
  what: string,
): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const field = issue === undefined ? "(root)" : fieldPath(issue.path);
  throw new PayloadError(field, `${what}: ${issue?.message ?? "invalid"}`, { cause: result.error });
}
