import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Node } from "yaml";
import { ConfigFileError } from "./errors.js";

/** A parsed YAML document that can say on which line a path starts. */
export interface YamlSource {
  readonly file: string;
  readonly value: unknown;
  /** The line of the deepest node along `path` that exists (1-based). */
  readonly lineOf: (path: readonly PropertyKey[]) => number | undefined;
}

/** Parses YAML 1.2; a syntax error (or a duplicate key) is a ConfigFileError naming its line. */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  const firstError = doc.errors[0];
  if (firstError !== undefined) {
    const line = firstError.linePos?.[0].line;
    const headline = (firstError.message.split("\n")[0] ?? firstError.code).replace(/:$/, "");
    throw new ConfigFileError(`YAML syntax error: ${headline}`, {
      path: "(root)",
      file,
      ...(line === undefined ? {} : { line }),
      cause: firstError,
    });
  }
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;
  return {
    file,
    value: doc.toJS({ maxAliasCount: 100 }) as unknown,
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
