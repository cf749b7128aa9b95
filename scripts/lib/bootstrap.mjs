// Gets a fresh checkout to a runnable state with nothing but Node and npm: pnpm, the
// dependencies and the build. Uses only Node's own modules, since nothing else is installed yet.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const pinned = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).packageManager; // "pnpm@x.y.z"

export function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, { cwd: root, stdio: "inherit", ...opts });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    const err = new Error(`${cmd} ${args.join(" ")} exited with ${res.status ?? res.signal}`);
    err.exitCode = res.status ?? 1;
    throw err;
  }
}

function has(cmd, args = ["--version"]) {
  const res = spawnSync(cmd, args, { stdio: "ignore" });
  return !res.error && res.status === 0;
}

/** The command that runs pnpm: the installed one, or the pinned version through npx. */
export function pnpmCommand() {
  if (has("pnpm")) return ["pnpm"];
  console.log(`herald: pnpm is not installed; using ${pinned} through npx`);
  return ["npx", "--yes", pinned];
}

function newer(a, b) {
  return existsSync(a) && (!existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs);
}

/** Installs the dependencies when node_modules is missing or older than the lockfile. */
export function ensureDependencies(pnpm = pnpmCommand()) {
  const marker = path.join(root, "node_modules/.modules.yaml");
  if (!existsSync(marker) || newer(path.join(root, "pnpm-lock.yaml"), marker)) {
    console.log("herald: installing dependencies");
    const [cmd, ...pre] = pnpm;
    run(cmd, [...pre, "install", "--frozen-lockfile"]);
  }
}

/** Compiles the given projects and what they reference (incremental: quick when nothing changed). */
export function ensureBuilt(projects = ["."]) {
  run(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-b", ...projects]);
}
