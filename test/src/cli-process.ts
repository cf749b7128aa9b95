// Runs the built herald CLI (packages/cli, as `npx herald` does) as a child process, the way a user does.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@herald/testkit";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const HERALD_BIN = path.join(root, "packages/cli/bin/herald.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `herald ...args` to its end; `input` is written to its stdin. */
export async function runCli(
  args: readonly string[],
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  const cli = startCli(args, opts);
  if (opts.input !== undefined) cli.child.stdin.end(opts.input);
  else cli.child.stdin.end();
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

export interface RunningCli {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout holds `text` (or matches it); fails with the output if the process ends first. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Ctrl-C; resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/** Starts `herald ...args` (tail, receive: commands that run until stopped). */
export function startCli(
  args: readonly string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): RunningCli {
  const child = spawn(process.execPath, [HERALD_BIN, ...args], {
    cwd: opts.cwd ?? root,
    env: { PATH: process.env["PATH"] ?? "", ...opts.env },
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
  child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    exited,
    stdout: () => out,
    stderr: () => err,
    async waitForOutput(text, timeoutMs = 30_000) {
      const printed = waitFor(() => (typeof text === "string" ? out.includes(text) : text.test(out)), {
        timeoutMs,
        what: `herald ${args.join(" ")} to print ${String(text)}; it printed:\n${out}\n${err}`,
      });
      await Promise.race([
        printed,
        exited.then(async (code) => {
          // It may have printed it just before it ended.
          if (typeof text === "string" ? out.includes(text) : text.test(out)) return printed;
          throw new Error(
            `herald ${args.join(" ")} exited (${code}) before printing ${String(text)}:\n${out}\n${err}`,
          );
        }),
      ]);
    },
    async interrupt() {
      if (!done) child.kill("SIGINT");
      return exited;
    },
  };
}
