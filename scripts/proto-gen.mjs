#!/usr/bin/env node
// Lints proto/ with buf, then generates packages/proto/src/gen with ts-proto (a local plugin) and
// packages/proto/descriptors/herald.binpb, the FileDescriptorSet that gRPC server reflection serves:
// proto/ with its imports and comments, and the standard services every Herald gRPC port serves
// beside its own (grpc.health.v1, grpc.reflection.v1 and v1alpha), from the packages that ship them.
//   node scripts/proto-gen.mjs           lint, then regenerate both in place
//   node scripts/proto-gen.mjs --check   lint, regenerate into a temp dir, and exit 1 if what is
//                                        checked in differs in any byte
// Needs no network: buf.yaml has no deps and the google/protobuf well-known types ship with buf.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const protoDir = join(root, "proto");
const packageDir = join(root, "packages", "proto");
const genDir = join(packageDir, "src", "gen");
const descriptorDir = join(packageDir, "descriptors");
const DESCRIPTOR_SET = "herald.binpb";
// Each module root and the files of it that go into the set besides proto/.
const standardProtos = [
  { root: join(packageDir, "node_modules", "grpc-health-check", "proto"), paths: ["health/v1/health.proto"] },
  {
    root: join(packageDir, "node_modules", "@grpc", "reflection", "build", "proto"),
    paths: ["grpc/reflection"],
  },
];
const bufBin = join(packageDir, "node_modules", ".bin", "buf");
const tsProtoBin = join(packageDir, "node_modules", ".bin", "protoc-gen-ts_proto");

const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== "--check");
if (unknown.length > 0) {
  console.error(`proto-gen: unknown argument(s) ${unknown.join(" ")}; usage: proto-gen.mjs [--check]`);
  process.exit(2);
}
const check = args.includes("--check");

for (const bin of [bufBin, tsProtoBin, ...standardProtos.map((p) => p.root)]) {
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

/**
 * Writes the descriptor set into outDir: one `buf build` per module, concatenated (serialized
 * FileDescriptorSets concatenate into the set of all their files). Returns buf's exit status.
 */
function buildDescriptorSet(outDir) {
  const parts = mkdtempSync(join(tmpdir(), "herald-descriptors-"));
  try {
    const modules = [{ root: protoDir, paths: [] }, ...standardProtos];
    const files = [];
    for (const [i, module] of modules.entries()) {
      const file = join(parts, `${i}.binpb`);
      const status = buf(["build", "-o", file, ...module.paths.flatMap((p) => ["--path", p])], module.root);
      if (status !== 0) return status;
      files.push(readFileSync(file));
    }
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, DESCRIPTOR_SET), Buffer.concat(files));
    return 0;
  } finally {
    rmSync(parts, { recursive: true, force: true });
  }
}

const lintStatus = buf(["lint"], protoDir);
if (lintStatus !== 0) process.exit(lintStatus);

// buf.gen.yaml's paths are relative to packages/proto, so buf runs there.
if (!check) {
  const generateStatus = buf(["generate"], packageDir);
  if (generateStatus !== 0) process.exit(generateStatus);
  const buildStatus = buildDescriptorSet(descriptorDir);
  if (buildStatus !== 0) process.exit(buildStatus);
  console.log(
    `proto-gen: generated ${listFiles(genDir).length} files into ${relative(root, genDir)}, and ` +
      `${relative(root, join(descriptorDir, DESCRIPTOR_SET))}`,
  );
  process.exit(0);
}

const scratch = mkdtempSync(join(tmpdir(), "herald-proto-gen-"));
const outputs = [
  { dir: genDir, fresh: join(scratch, "src", "gen") },
  { dir: descriptorDir, fresh: join(scratch, "descriptors") },
];
let differences = [];
let generateStatus;
try {
  // -o prefixes every `out` of buf.gen.yaml, so the fresh tree lands in <scratch>/src/gen.
  generateStatus = buf(["generate", "-o", scratch], packageDir);
  if (generateStatus === 0) generateStatus = buildDescriptorSet(join(scratch, "descriptors"));
  if (generateStatus === 0) {
    differences = outputs.flatMap(({ dir, fresh }) => {
      const where = relative(root, dir).split(sep).join("/");
      return compareTrees(dir, fresh).map((difference) => `${where}/${difference}`);
    });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
if (generateStatus !== 0) process.exit(generateStatus);

if (differences.length > 0) {
  console.error(`proto-gen: the generated code is out of date with proto/ in ${differences.length} file(s):`);
  for (const difference of differences) console.error(`  ${difference}`);
  console.error("proto-gen: run `pnpm proto:gen` and commit the result");
  process.exit(1);
}
console.log(
  `proto-gen: ${outputs.map((o) => relative(root, o.dir)).join(" and ")} are up to date with proto/`,
);
