import { open } from "node:fs/promises";
import { CST, Lexer, LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Node } from "yaml";
import { ConfigFileError } from "./errors.js";
import { MAX_YAML_ALIAS_COUNT, MAX_YAML_BYTES, MAX_YAML_DEPTH } from "./limits.js";

/** A parsed YAML document that can say on which line a path starts. */
export interface YamlSource {
  readonly file: string;
  readonly value: unknown;
  /** The line of the deepest node along `path` that exists (1-based). */
  readonly lineOf: (path: readonly PropertyKey[]) => number | undefined;
}

function refuse(problem: string, file: string, line?: number, cause?: unknown): never {
  throw new ConfigFileError(problem, {
    path: "(root)",
    file,
    ...(line === undefined ? {} : { line }),
    ...(cause === undefined ? {} : { cause }),
  });
}

const tooLarge = (file: string): never => refuse(`larger than ${MAX_YAML_BYTES} bytes`, file);

/** YAML bytes as text: bounded, and refused (with the line) unless valid UTF-8, never silently replaced. */
export function decodeYamlBytes(bytes: Uint8Array, file: string): string {
  if (bytes.byteLength > MAX_YAML_BYTES) tooLarge(file);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (err) {
    // The lossy decoding marks where the bad bytes are (a literal U+FFFD before them would mislead; rare).
    const lossy = new TextDecoder("utf-8").decode(bytes);
    return refuse("not valid UTF-8", file, lineAtOffset(lossy, lossy.indexOf("\uFFFD")), err);
  }
}

/** Reads a YAML file from disk: a regular file (not a FIFO or a device), bounded, valid UTF-8. */
export async function readYamlFile(path: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_YAML_BYTES) tooLarge(path);
    // One byte more than allowed: a file that grew since stat is still caught.
    const buffer = Buffer.alloc(MAX_YAML_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return decodeYamlBytes(buffer.subarray(0, bytesRead), path);
  } finally {
    await handle.close();
  }
}

// YAML allows no C0 control character but tab, LF and CR in a document (nor DEL).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/**
 * Parses YAML 1.2 within Herald's limits (size, nesting, aliases). Any problem, a syntax error or a
 * duplicate key included, is a ConfigFileError naming its line and the kind of problem, never the text.
 */
export function parseYaml(text: string, file: string): YamlSource {
  if (Buffer.byteLength(text, "utf8") > MAX_YAML_BYTES) tooLarge(file);
  const control = CONTROL_CHARACTER.exec(text);
  if (control !== null) {
    refuse(
      "a control character (such as NUL) is not allowed in YAML",
      file,
      lineAtOffset(text, control.index),
    );
  }
  const deepAt = tooDeepAt(text, MAX_YAML_DEPTH);
  if (deepAt !== undefined) {
    refuse(`nested deeper than ${MAX_YAML_DEPTH} levels`, file, lineAtOffset(text, deepAt));
  }
  const lineCounter = new LineCounter();
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    // yaml's messages quote bits of the source (an alias, a tag); its code says what is wrong without them.
    const kind = firstError.code.toLowerCase().replace(/_/g, " ");
    refuse(`YAML syntax error: ${kind}`, file, lineAt(firstError.pos[0]), firstError);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) as unknown;
  } catch (err) {
    // toJS throws a ReferenceError for an unknown alias or one expanded too often.
    const excessive = err instanceof Error && err.message.startsWith("Excessive alias count");
    refuse(
      excessive
        ? `aliases expand too much (over ${MAX_YAML_ALIAS_COUNT}): refused as a resource exhaustion attack`
        : "YAML error: an alias names no anchor before it",
      file,
      undefined,
      err,
    );
  }
  return {
    file,
    value,
    lineOf: (path) => {
      let node: unknown = doc.contents;
      let line = isNode(node) && node.range ? lineAt(node.range[0]) : undefined;
      for (const segment of path) {
        if (isMap(node)) {
          const pair = node.items.find(
            (item) => isScalar(item.key) && String(item.key.value) === String(segment),
          );
          if (pair === undefined) break;
          if (isNode(pair.key) && pair.key.range) line = lineAt(pair.key.range[0]);
          node = pair.value;
        } else if (isSeq(node)) {
          node = node.items[Number(segment)];
          if (isNode(node) && node.range) line = lineAt(node.range[0]);
        } else {
          break;
        }
      }
      return line;
    },
  };
}

function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && "range" in value;
}

function lineAtOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line += 1;
  return line;
}

// The lexer's markers that stand for no source text.
const MARKERS = new Set(["\u0002", "\u0018"]);
const SCALAR_MARKER = "\u001f";

/**
 * The offset where `text` nests deeper than `max` levels, or undefined. A linear pass over yaml's lexer
 * (which does not recurse), before the parser and composer (which do, and can exhaust the stack or the
 * heap): block levels are the columns open on a stack, flow levels the brackets open.
 */
function tooDeepAt(text: string, max: number): number | undefined {
  const columns: number[] = [];
  let flow = 0;
  let offset = 0;
  let lineStart = 0;
  let lineHasContent = false;
  let afterIndicator = false;
  let scalarNext = false;
  for (const token of new Lexer().lex(text)) {
    if (MARKERS.has(token)) continue;
    if (token === SCALAR_MARKER) {
      scalarNext = true;
      continue;
    }
    const type = scalarNext ? "scalar" : CST.tokenType(token);
    scalarNext = false;
    const start = offset;
    offset += token.length;
    if (type === "newline") {
      lineStart = offset;
      lineHasContent = false;
      afterIndicator = false;
      continue;
    }
    if (type === "space" || type === "comment") continue;
    // A block node starts at the first content of a line, or after "- " or "? " on it.
    if (flow === 0 && (!lineHasContent || afterIndicator)) {
      const column = start - lineStart;
      while (columns.length > 0 && (columns.at(-1) ?? 0) >= column) columns.pop();
      columns.push(column);
    }
    if (type === "flow-seq-start" || type === "flow-map-start") flow += 1;
    if ((type === "flow-seq-end" || type === "flow-map-end") && flow > 0) flow -= 1;
    if (columns.length + flow > max) return start;
    lineHasContent = true;
    afterIndicator = type === "seq-item-ind" || type === "explicit-key-ind";
    const newline = token.lastIndexOf("\n");
    if (newline !== -1) lineStart = start + newline + 1;
  }
  return undefined;
}
