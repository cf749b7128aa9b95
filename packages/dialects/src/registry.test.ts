import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DIALECTS, DIALECT_DEFINITIONS, dialectOf, dialectTable } from "./index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const SOURCES = ["packages", "services"];

/** Source files that are not tests, generated code or a dialect's own folder. */
function* sourceFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (["node_modules", "dist", "gen", "__golden__", "__fixtures__"].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      yield* sourceFiles(path);
    } else if (/\.(ts|js)$/.test(entry.name) && !/\.test\.ts$|\.d\.ts$/.test(entry.name)) {
      yield path;
    }
  }
}

const DIALECT_FOLDER = new RegExp(
  `packages\\${sep}dialects\\${sep}src\\${sep}(${DIALECTS.join("|")})\\${sep}`,
);

describe("the dialect registry", () => {
  it("is the only place that decides by a dialect's name: no comparison or case on one elsewhere", () => {
    const names = DIALECTS.join("|");
    const switches = new RegExp(
      `(?:[!=]==?\\s*|case\\s+)["'\`](?:${names})["'\`]|["'\`](?:${names})["'\`]\\s*[!=]==?`,
    );
    const found: string[] = [];
    for (const top of SOURCES) {
      for (const file of sourceFiles(join(ROOT, top))) {
        if (DIALECT_FOLDER.test(file)) continue;
        readFileSync(file, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (switches.test(line)) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    expect(found).toEqual([]);
  });

  it("names each dialect once, with defaults its own limits allow", () => {
    expect(new Set(DIALECTS).size).toBe(DIALECTS.length);
    for (const d of DIALECT_DEFINITIONS) {
      expect(dialectOf(d.name as (typeof DIALECTS)[number])).toBe(d);
      expect(d.defaults.batch.maxRecords).toBeLessThanOrEqual(d.maxBatchRecords);
      expect(d.defaults.eventTypes.length).toBeGreaterThan(0);
      expect(d.template).toHaveProperty("url");
    }
  });
});

describe("the README's dialect table", () => {
  // Between these markers the README holds dialectTable() as prettier formats it; UPDATE_README=1 rewrites it.
  const BEGIN =
    "<!-- dialect-table:begin (made from DIALECT_REGISTRY; UPDATE_README=1 vitest run registry rewrites it) -->";
  const END = "<!-- dialect-table:end -->";

  it("says what the registry says", async () => {
    const readmePath = join(ROOT, "README.md");
    const readme = readFileSync(readmePath, "utf8");
    const start = readme.indexOf(BEGIN);
    const end = readme.indexOf(END);
    expect(start, `README.md lacks ${BEGIN}`).toBeGreaterThan(-1);
    const { format } = await import("prettier");
    const table = (await format(dialectTable(), { parser: "markdown", printWidth: 110 })).trim();
    const current = readme.slice(start + BEGIN.length, end).trim();
    if (process.env["UPDATE_README"] === "1" && current !== table) {
      writeFileSync(
        readmePath,
        `${readme.slice(0, start + BEGIN.length)}\n\n${table}\n\n${readme.slice(end)}`,
      );
      return;
    }
    expect(current).toBe(table);
  });
});
