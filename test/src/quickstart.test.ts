import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import { ANY_FREE_PORTS, allProcesses } from "./herald-start.js";

// The README's quickstart, run as written: its first ```sh block under "## Quickstart", each command
// through a shell from the repository root, so the README cannot drift from what works.

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The quickstart's commands, comments stripped. */
export function quickstartCommands(readme: string): string[] {
  const section = readme.split(/^## Quickstart$/m)[1]?.split(/^## /m)[0] ?? "";
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error("README.md has no ```sh block under ## Quickstart");
  return block
    .split("\n")
    .map((line) =>
      line
        .replace(/\s+#.*$/, "")
        .replace(/^#.*$/, "")
        .trim(),
    )
    .filter((line) => line !== "");
}

// Commands that serve until stopped, and the line each prints once it serves.
const LONG_RUNNING: ReadonlyArray<{ command: RegExp; ready: string }> = [
  { command: /^(npm|pnpm) start\b/, ready: "Press Ctrl-C to stop." },
  { command: /\bherald receive\b/, ready: "listening on http://" },
];

interface Shell {
  command: string;
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

const home = mkdtempSync(path.join(tmpdir(), "herald-quickstart-"));
const started: Shell[] = [];

afterAll(async () => {
  for (const shell of [...started].reverse()) await stop(shell);
  rmSync(home, { recursive: true, force: true });
}, 120_000);

function run(command: string, env: NodeJS.ProcessEnv): Shell {
  // A process group of its own, as a terminal gives each command: Ctrl-C reaches all of it.
  const child = spawn("sh", ["-c", command], { cwd: root, env, detached: true });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString("utf8")));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  const shell = { command, child, output: () => out, exited };
  started.push(shell);
  return shell;
}

async function stop(shell: Shell): Promise<void> {
  if (shell.child.exitCode !== null || shell.child.signalCode !== null) return;
  try {
    process.kill(-shell.child.pid!, "SIGINT");
  } catch {
    // the group is gone already
  }
  await shell.exited;
}

/** Every process whose environment or command line names this test's HERALD_HOME (Linux /proc). */
function processesOfHome(): string[] {
  return allProcesses()
    .filter(({ pid, cmdline }) => {
      if (pid === process.pid) return false;
      try {
        return cmdline.includes(home) || readFileSync(`/proc/${pid}/environ`, "utf8").includes(home);
      } catch {
        return false; // the process ended while we looked, or is not ours to read
      }
    })
    .map(({ pid, cmdline }) => `${pid}: ${cmdline}`);
}

it("runs the README quickstart as written, and the receiver gets alice's user.online with a verified signature", async () => {
  const commands = quickstartCommands(readFileSync(path.join(root, "README.md"), "utf8"));
  expect(commands.length).toBeGreaterThan(0);
  expect(commands.length).toBeLessThanOrEqual(5);
  // Embedded NATS and Postgres, whatever the test run was given; any free ports, since other Heralds may run.
  const { NATS_URL: _nats, DATABASE_URL: _db, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = { ...inherited, HERALD_HOME: home, ...ANY_FREE_PORTS };
  let receiver: Shell | undefined;

  for (const command of commands) {
    // The CLI finds this Herald through $HERALD_HOME/ports.json, which npm start writes.
    const shell = run(command, env);
    const long = LONG_RUNNING.find((l) => l.command.test(command));
    if (long === undefined) {
      const code = await shell.exited;
      expect(code, `${command}:\n${shell.output()}`).toBe(0);
      continue;
    }
    if (/\bherald receive\b/.test(command)) receiver = shell;
    await Promise.race([
      waitFor(() => shell.output().includes(long.ready), {
        timeoutMs: 240_000,
        what: `${command} to be ready`,
      }),
      shell.exited.then((code) => {
        throw new Error(`${command} exited (${code}) before it was ready:\n${shell.output()}`);
      }),
    ]);
  }

  expect(receiver, "the quickstart starts a receiver").toBeDefined();
  const received = () => receiver?.output() ?? "";
  await waitFor(
    () =>
      received().includes("signature verified") &&
      received().includes('"type": "user.online"') &&
      received().includes('"userId": "alice"'),
    { timeoutMs: 60_000, what: "the receiver to print alice's user.online with a verified signature" },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; the receiver printed:\n${received()}`);
  });

  // Ctrl-C to each, the last started first: the receiver removes its endpoint while Herald still runs.
  for (const shell of [...started].reverse()) await stop(shell);
  expect(received()).toContain("removed endpoint");
  await waitFor(() => processesOfHome().length === 0, {
    timeoutMs: 60_000,
    what: "every process to end",
  }).catch(() => undefined);
  expect(processesOfHome()).toEqual([]);
}, 420_000);
