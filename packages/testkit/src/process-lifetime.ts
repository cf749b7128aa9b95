import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync, rmSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

type ExitHook = () => void;
const exitHooks = new Set<ExitHook>();
let exitListenerInstalled = false;

/** Runs `hook` synchronously when this process exits (last registered runs first). Returns an unregister. */
export function onProcessExit(hook: ExitHook): () => void {
  if (!exitListenerInstalled) {
    exitListenerInstalled = true;
    process.on("exit", () => {
      for (const registered of [...exitHooks].reverse()) {
        try {
          registered();
        } catch {
          // Best effort: the process is going away, and one failed hook must not skip the others.
        }
      }
    });
  }
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

/** Absolute path of `name` on PATH or in `extraDirs`, or undefined. */
export function findExecutable(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env["PATH"] ?? "").split(path.delimiter), ...extraDirs];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

// setpriv (util-linux) asks the kernel to SIGKILL the child when this process dies, even by SIGKILL.
const setpriv = process.platform === "linux" ? findExecutable("setpriv", ["/usr/bin", "/bin"]) : undefined;

export interface TiedProcess {
  readonly child: ChildProcess;
  /** The last few KiB the process wrote to stdout and stderr, for error messages. */
  output(): string;
  /** Settles when the process has exited; never rejects. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const OUTPUT_TAIL_BYTES = 4096;

/**
 * Spawns a server process that dies with this process: a kernel parent-death signal where setpriv
 * exists, and an 'exit' hook everywhere. It does not keep the event loop alive.
 */
export function spawnTiedToParent(command: string, args: readonly string[]): TiedProcess {
  const [file, argv] = setpriv ? [setpriv, ["--pdeathsig", "KILL", "--", command, ...args]] : [command, args];
  const child = spawn(file, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keepTail = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_BYTES);
  };
  child.stdout?.on("data", keepTail);
  child.stderr?.on("data", keepTail);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => {
      keepTail(Buffer.from(`${err.message}\n`));
      resolve({ code: null, signal: null });
    });
  });
  const unregister = onProcessExit(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  void exited.then(unregister);
  child.unref();
  unrefStream(child.stdout);
  unrefStream(child.stderr);
  return { child, output: () => tail, exited };
}

function unrefStream(stream: unknown): void {
  if (
    stream !== null &&
    typeof stream === "object" &&
    "unref" in stream &&
    typeof stream.unref === "function"
  ) {
    (stream as { unref(): void }).unref();
  }
}

/** SIGTERM, then SIGKILL if the process has not exited within `graceMs`. Resolves once it has exited. */
export async function terminate(proc: TiedProcess, graceMs = 10_000): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

const TEMP_DIR_PATTERN = /^herald-(nats|pg|tls)-(\d+)-/;

/**
 * A fresh directory under the OS temp dir, named after this process so a later run can sweep it
 * if this one crashes; removed when this process exits.
 */
export async function makeRunTempDir(kind: "nats" | "pg" | "tls"): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `herald-${kind}-${process.pid}-`));
  onProcessExit(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Removes temp dirs (and kills their postmasters) left by test processes that no longer run. */
export async function sweepStaleTempDirs(): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(tmpdir());
  } catch {
    return;
  }
  for (const entry of entries) {
    const owner = TEMP_DIR_PATTERN.exec(entry)?.[2];
    if (owner === undefined || isAlive(Number(owner))) continue;
    const dir = path.join(tmpdir(), entry);
    await killOrphanPostmaster(path.join(dir, "data", "postmaster.pid"));
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function killOrphanPostmaster(pidFile: string): Promise<void> {
  const firstLine = await readFile(pidFile, "utf8").then(
    (text) => text.split("\n")[0],
    () => undefined,
  );
  const pid = Number(firstLine);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  // Guard against pid reuse: only signal a process that is still a postgres binary.
  if (!readProcCmdline(pid).includes("postgres")) return;
  process.kill(pid, "SIGQUIT");
}

function readProcCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
