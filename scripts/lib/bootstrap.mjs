// Gets a fresh checkout to a runnable state with nothing but Node and npm: pnpm, the
// dependencies and the build. Uses only Node's own modules, since nothing else is installed yet.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { spawnTied } from "./lifetime.mjs";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const pinned = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).packageManager; // "pnpm@x.y.z"

/**
 * Runs a command to its end without blocking this process (its signal handlers keep working);
 * `onLine`, when given, receives its standard output line by line instead of the terminal.
 */
export function run(cmd, args, { onLine, ...opts } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnTied(cmd, args, {
      cwd: root,
      stdio: ["inherit", onLine ? "pipe" : "inherit", "inherit"],
      ...opts,
    });
    if (onLine) readline.createInterface({ input: child.stdout }).on("line", onLine);
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) return resolve();
      const err = new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}`);
      err.exitCode = code ?? 1;
      reject(err);
    });
  });
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
export async function ensureDependencies(pnpm = pnpmCommand()) {
  const marker = path.join(root, "node_modules/.modules.yaml");
  if (!existsSync(marker) || newer(path.join(root, "pnpm-lock.yaml"), marker)) {
    console.log("herald: installing dependencies (pnpm install --frozen-lockfile)…");
    const [cmd, ...pre] = pnpm;
    await run(cmd, [...pre, "install", "--frozen-lockfile"]);
  }
}

/** A line of tsc -b --verbose's own, after its time stamp ("9:26:39 PM - ", "21:26:39 - "). */
const TSC_VERBOSE =
  /^\S.{0,20} - (Projects in this build|Project '|Building project|Updating |Skipping build)/;

/**
 * Compiles the given projects and what they reference (incremental: quick when nothing changed),
 * with a line for each project it compiles: a first build takes most of a minute.
 */
export async function ensureBuilt(projects = ["."]) {
  const planned = [];
  const tsc = path.join(root, "node_modules/typescript/bin/tsc");
  const onLine = (line) => {
    // --verbose lists the projects in build order, then says of each whether it is up to date
    // or being built; what is not its own is a compiler error, printed as tsc wrote it.
    const listed = /^ {4}\* (.+)$/.exec(line);
    const building = /Building project '(.+)'\.\.\.$/.exec(line);
    if (listed) planned.push(path.resolve(root, listed[1]));
    else if (building) {
      const project = path.relative(root, path.dirname(building[1]));
      const at = planned.indexOf(path.resolve(root, building[1])) + 1;
      console.log(`herald: building ${project} (${at} of ${planned.length})…`);
    } else if (line.trim() !== "" && !TSC_VERBOSE.test(line)) console.log(line);
  };
  try {
    await run(process.execPath, [tsc, "-b", "--verbose", ...projects], { onLine });
  } catch (err) {
    // tsc's own lines above say what is wrong; its long command line would only bury them.
    err.message = `the build failed (tsc exited with ${err.exitCode}); its errors are above`;
    throw err;
  }
}
