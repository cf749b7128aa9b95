import type { z } from "zod";
import { ConfigFileError } from "./errors.js";
import type { ConfigWarning } from "./errors.js";

/** Where a value being read sits: its dotted path for messages, and its path in its YAML document for lines. */
export interface Site {
  readonly file: string;
  readonly path: readonly string[];
  readonly docPath: readonly PropertyKey[];
  readonly lineOf: (docPath: readonly PropertyKey[]) => number | undefined;
  readonly warnings: ConfigWarning[];
  /** A file another file references: its unknown keys are not named, only their line. */
  readonly referenced?: boolean;
}

export function rootSite(opts: {
  file: string;
  path?: readonly string[];
  lineOf?: Site["lineOf"];
  warnings?: ConfigWarning[];
  referenced?: boolean;
}): Site {
  return {
    file: opts.file,
    path: opts.path ?? [],
    docPath: [],
    lineOf: opts.lineOf ?? (() => undefined),
    warnings: opts.warnings ?? [],
    ...(opts.referenced === true ? { referenced: true } : {}),
  };
}

export function child(site: Site, ...keys: PropertyKey[]): Site {
  return { ...site, path: [...site.path, ...keys.map(String)], docPath: [...site.docPath, ...keys] };
}

// In a referenced file a key is named only when it looks like one: a line of a secret does not.
const PLAIN_KEY = /^[A-Za-z0-9_-]{1,64}$/;
const HIDDEN_KEY = "[?]";

export function dotted(site: Site): string {
  if (site.path.length === 0) return "(root)";
  const path =
    site.referenced === true ? site.path.map((key) => (PLAIN_KEY.test(key) ? key : HIDDEN_KEY)) : site.path;
  return path.join(".");
}

export function fail(site: Site, problem: string, cause?: unknown): never {
  const line = site.lineOf(site.docPath);
  throw new ConfigFileError(problem, {
    path: dotted(site),
    file: site.file,
    ...(line === undefined ? {} : { line }),
    ...(cause === undefined ? {} : { cause }),
  });
}

export function warn(site: Site, message: string): void {
  const path = dotted(site);
  const line = path.includes(HIDDEN_KEY) ? site.lineOf(site.docPath) : undefined;
  site.warnings.push({ path, message: line === undefined ? message : `${message} (line ${line})` });
}

/** A plain object (a YAML mapping), or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The mapping at `site`, refusing anything else. */
export function expectRecord(site: Site, value: unknown): Record<string, unknown> {
  return asRecord(value) ?? fail(site, `expected a mapping, got ${describe(value)}`);
}

/** The site of a key that is not Herald's: in a referenced file it is not named (it may be any line of it). */
export function unknownKeySite(site: Site, key: string): Site {
  const at = child(site, key);
  return site.referenced === true ? { ...at, path: [...site.path, HIDDEN_KEY] } : at;
}

/** Warns once per key of `record` that is not in `known`. */
export function warnUnknownKeys(site: Site, record: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) warn(unknownKeySite(site, key), "unknown key");
  }
}

/** Parses with `schema`; the first issue becomes a ConfigFileError naming its field. */
export function parseAt<S extends z.ZodType>(site: Site, schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) return fail(site, "invalid value", result.error);
  // Name the unknown key itself, as the file's warnings do.
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) {
    return fail(unknownKeySite(child(site, ...issue.path), issue.keys[0]), "unknown key", result.error);
  }
  return fail(child(site, ...issue.path), issue.message, result.error);
}

/** What kind of value this is, never the value itself (it may be a secret, or a line of another file). */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value === "string" ? "text" : `a ${typeof value}`;
}
