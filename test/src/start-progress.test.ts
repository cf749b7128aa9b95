// What `npm start` says while it builds (scripts/lib/bootstrap.mjs's ensureBuilt): a line per
// project it compiles, in build order, the compiler's errors as tsc wrote them, and nothing for a
// build that is up to date.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = await mkdtemp(path.join(tmpdir(), "herald-build-"));

afterAll(() => rm(dir, { recursive: true, force: true }));

/** A TypeScript project under `dir` with one source file, referencing `references`. */
async function project(name: string, source: string, references: string[] = []): Promise<string> {
  const at = path.join(dir, name);
  await mkdir(path.join(at, "src"), { recursive: true });
  const config = {
    compilerOptions: { composite: true, outDir: "dist", rootDir: "src" },
    include: ["src"],
    references: references.map((ref) => ({ path: `../${ref}` })),
  };
  await writeFile(path.join(at, "tsconfig.json"), JSON.stringify(config));
  await writeFile(path.join(at, "src/index.ts"), source);
  return at;
}

/** Runs ensureBuilt(projects) in a process of its own, as start.mjs does; resolves with what it printed. */
function ensureBuilt(projects: string[]): Promise<{ code: number | null; out: string }> {
  const script =
    `const { ensureBuilt } = await import(${JSON.stringify(path.join(root, "scripts/lib/bootstrap.mjs"))});` +
    `await ensureBuilt(${JSON.stringify(projects)}).catch((err) => { console.log("failed: " + err.message); process.exitCode = 1; });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: root });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, out })));
}

it("says which project it builds, n of N, then nothing once the build is up to date", async () => {
  await project("base", "export const base = 1;\n");
  const top = await project(
    "top",
    'import { base } from "../../base/src/index.js";\nexport const top = base;\n',
    ["base"],
  );
  const first = await ensureBuilt([top]);
  expect(first.code).toBe(0);
  const relative = (name: string) => path.relative(root, path.join(dir, name));
  expect(first.out).toBe(
    `herald: building ${relative("base")} (1 of 2)…\nherald: building ${relative("top")} (2 of 2)…\n`,
  );

  const again = await ensureBuilt([top]);
  expect(again).toEqual({ code: 0, out: "" });
});

it("prints tsc's errors as tsc wrote them, and ends with one line that points at them", async () => {
  const broken = await project("broken", 'export const n: number = "not a number";\n');
  const { code, out } = await ensureBuilt([broken]);
  expect(code).toBe(1);
  const lines = out.trimEnd().split("\n");
  expect(lines[0]).toBe(`herald: building ${path.relative(root, broken)} (1 of 1)…`);
  expect(lines[1]).toMatch(
    /src\/index\.ts\(1,14\): error TS2322: Type 'string' is not assignable to type 'number'\./,
  );
  expect(lines.at(-1)).toMatch(/^failed: the build failed \(tsc exited with \d\); its errors are above$/);
});
