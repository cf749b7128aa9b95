#!/usr/bin/env node
// Lints proto/ with buf, then generates packages/proto/src/gen with ts-proto (a local plugin).
//   node scripts/proto-gen.mjs           lint, then regenerate packages/proto/src/gen in place
//   node scripts/proto-gen.mjs --check   lint, regenerate into a temp dir, and exit 1 if the
//                                        checked-in packages/proto/src/gen differs in any byte
// Needs no network: buf.yaml has no deps and the google/protobuf well-known types ship with buf.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const protoDir = join(root, "proto");
const packageDir = join(root, "packages", "proto");
const genDir = join(packageDir, "src", "gen");
const bufBin = join(packageDir, "node_modules", ".bin", "buf");
const tsProtoBin = join(packageDir, "node_modules", ".bin", "protoc-gen-ts_proto");

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== "--check");
if (unknown.length > 0) {
  console.error(`proto-gen: unknown argument(s) ${unknown.join(" ")}; usage: proto-gen.mjs [--check]`);
  process.exit(2);
}
const check = args.includes("--check");

for (const bin of [bufBin, tsProtoBin]) {
  if (!existsSync(bin)) {
    console.error(`proto-gen: ${relative(root, bin)} is missing; run \`pnpm install\` first`);
    process.exit(2);
  }
}

/** Runs buf with inherited output; returns 0 on success, else the exit code to leave with. */
function buf(bufArgs, cwd) {
  const result = spawnSync(bufBin, bufArgs, { cwd, stdio: "inherit" });
  if (result.error) {
    console.error(`proto-gen: could not run buf: ${result.error.message}`);
    return 2;
  }
  if (result.status !== 0) {
    console.error(`proto-gen: buf ${bufArgs[0]} failed (exit ${result.status ?? result.signal})`);
    return result.status || 1;
  }
  return 0;
}

/** Every file under dir, as sorted forward-slash paths relative to dir; [] when dir is absent. */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

/** The files that differ between the checked-in and the fresh generation, with why. */
function compareTrees(checkedIn, fresh) {
  const checkedInFiles = new Set(listFiles(checkedIn));
  const freshFiles = new Set(listFiles(fresh));
  const differences = [];
  for (const file of [...new Set([...checkedInFiles, ...freshFiles])].sort()) {
    if (!freshFiles.has(file)) differences.push(`${file} (not generated any more: delete it)`);
    else if (!checkedInFiles.has(file)) differences.push(`${file} (missing: not checked in)`);
    else if (!readFileSync(join(checkedIn, file)).equals(readFileSync(join(fresh, file)))) {
      differences.push(`${file} (content differs)`);
    }
  }
  return differences;
}

const lintStatus = buf(["lint"], protoDir);
if (lintStatus !== 0) process.exit(lintStatus);

// buf.gen.yaml's paths are relative to packages/proto, so buf runs there.
if (!check) {
  const generateStatus = buf(["generate"], packageDir);
  if (generateStatus !== 0) process.exit(generateStatus);
  console.log(`proto-gen: generated ${listFiles(genDir).length} files into ${relative(root, genDir)}`);
  process.exit(0);
}

const scratch = mkdtempSync(join(tmpdir(), "herald-proto-gen-"));
let differences = [];
let generateStatus;
try {
  // -o prefixes every `out` of buf.gen.yaml, so the fresh tree lands in <scratch>/src/gen.
  generateStatus = buf(["generate", "-o", scratch], packageDir);
  if (generateStatus === 0) differences = compareTrees(genDir, join(scratch, "src", "gen"));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (generateStatus !== 0) process.exit(generateStatus);

if (differences.length > 0) {
  const where = relative(root, genDir).split(sep).join("/");
  console.error(`proto-gen: ${where} is out of date with proto/ in ${differences.length} file(s):`);
  for (const difference of differences) console.error(`  ${where}/${difference}`);
  console.error("proto-gen: run `pnpm proto:gen` and commit the result");
  process.exit(1);
}
console.log(`proto-gen: ${relative(root, genDir)} is up to date with proto/`);
