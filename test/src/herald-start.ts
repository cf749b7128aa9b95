// Runs `npm start`'s script the way a user does, in a temporary HERALD_HOME, for the tests of
// the local supervisor (test/src/start*.test.ts).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@herald/testkit";

const root = fileURLToPath(new URL("../..", import.meta.url));

export const SERVICE_NAMES = [
  "gateway",
  "evaluator",
  "presence",
  "chatroom",
  "deliverer",
  "logstore",
] as const;

// Other Heralds may start at the same time (test files run in parallel): no preferred ports.
export const ANY_FREE_PORTS = Object.fromEntries(
  [
    "GRPC_PORT",
    "HERALD_LOGSTORE_GRPC_PORT",
    "ADMIN_PORT",
    "HERALD_HEALTH_PORT",
    "HERALD_NATS_PORT",
    "HERALD_PG_PORT",
  ].map((name) => [name, "0"]),
);

export interface RunningHerald {
  readonly child: ChildProcessWithoutNullStreams;
  /** The supervisor's exit code. */
  readonly exited: Promise<number | null>;
  /** host:port of the chat core's gRPC server, as the banner prints it. */
  readonly grpc: string | undefined;
  /** The admin API's base URL (http://127.0.0.1:port), as the banner prints it. */
  readonly admin: string | undefined;
  /** Each service's health base URL (http://127.0.0.1:port), by service name, as the banner prints it. */
  readonly health: Readonly<Record<string, string>>;
  output(): string;
  /** Ctrl-C in a terminal: SIGINT to every process of the supervisor's group. */
  interrupt(): void;
  /** The pid of the supervisor's own child process whose command line contains `marker`, if one runs. */
  childPid(marker: string): number | undefined;
  /** `work`'s result, or an error with the supervisor's output if the supervisor exits first. */
  whileRunning<T>(work: Promise<T>): Promise<T>;
}

/** Starts Herald with embedded NATS and Postgres under `home` and waits until it says it is running. */
export async function startHerald(home: string, env: Record<string, string> = {}): Promise<RunningHerald> {
  // Embedded defaults: whatever NATS or Postgres the test run was given is not passed on.
  const { NATS_URL: _nats, DATABASE_URL: _db, ...inherited } = process.env;
  const child = spawn(process.execPath, [path.join(root, "scripts/start.mjs")], {
    cwd: root,
    // A process group of its own, as in a terminal: interrupt() is Ctrl-C to the whole group.
    detached: true,
    env: { ...inherited, HERALD_HOME: home, ...ANY_FREE_PORTS, ...env },
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  await waitFor(() => out.includes("Press Ctrl-C to stop.") || child.exitCode !== null, {
    timeoutMs: 150_000,
    what: "Herald to start",
  });
  const health = Object.fromEntries(
    [...out.matchAll(/^ +(\w+) +health +(http:\S+)\/healthz/gm)].map((m) => [m[1]!, m[2]!]),
  );
  return {
    child,
    exited,
    grpc: /gRPC for the chat core\s+(\S+)/.exec(out)?.[1],
    admin: /admin API\s+(\S+)\/v1\/apps/.exec(out)?.[1],
    health,
    output: () => out,
    interrupt: () => process.kill(-child.pid!, "SIGINT"),
    childPid: (marker) => childPids(child.pid!).find((c) => c.cmdline.includes(marker))?.pid,
    whileRunning: <T>(work: Promise<T>) =>
      Promise.race([
        work,
        exited.then((code): never => {
          throw new Error(`Herald exited (${code}) meanwhile; its output:\n${out}`);
        }),
      ]),
  };
}

/**
 * The live child processes of `parent` with their command lines, read from /proc (Linux): the
 * supervisor's NATS, Postgres and services are found by what they run, before and after a restart.
 */
function childPids(parent: number): { pid: number; cmdline: string }[] {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The fields after the command name (which may hold spaces) are: state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== parent) continue;
      // A process killed but not yet reaped has an empty command line, so it no longer matches.
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmdline.trim() !== "") found.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/**
 * Creates an app (no hooks, no endpoints) through the admin API, as a user does before the chat core
 * publishes for it; `token` is the ADMIN_TOKEN the Herald was started with.
 */
export async function createApp(herald: RunningHerald, token: string, appId: string): Promise<void> {
  const res = await fetch(`${herald.admin}/v1/apps/${appId}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });
  if (res.status !== 201 && res.status !== 200) {
    throw new Error(`creating app ${appId}: ${res.status} ${await res.text()}`);
  }
}

/** Every service's /readyz answers 200. */
export async function allReady(herald: RunningHerald): Promise<boolean> {
  const statuses = await Promise.all(
    Object.values(herald.health).map((url) =>
      fetch(`${url}/readyz`).then(
        (res) => res.status,
        () => 0,
      ),
    ),
  );
  return statuses.length > 0 && statuses.every((status) => status === 200);
}

/** The local addresses that listen on TCP `port`, from /proc/net (Linux): "127.0.0.1", "::1", "0.0.0.0", "::", … */
export function listenAddresses(port: number): string[] {
  const found: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [hex, portHex] = local?.split(":") ?? [];
      if (state !== "0A" || hex === undefined || Number.parseInt(portHex ?? "", 16) !== port) continue;
      found.push(hex.length === 8 ? ipv4(hex) : ipv6(hex));
    }
  }
  return found;
}

/** /proc/net/tcp writes an IPv4 address as one little-endian hex word. */
function ipv4(hex: string): string {
  return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(".");
}

function ipv6(hex: string): string {
  if (/^0{32}$/.test(hex)) return "::";
  return hex === "00000000000000000000000001000000" ? "::1" : hex;
}

/**
 * What was wrong with the order of an ordered stop, from the supervisor's lines: each service
 * named must have drained (exit code 0 after SIGTERM) before NATS and Postgres stopped.
 */
export function stopOrderProblems(output: string, services: readonly string[] = SERVICE_NAMES): string[] {
  const infra = ["nats-server", "Postgres"].map((label) =>
    output.indexOf(`herald: ${label} stopped (exit code 0)`),
  );
  if (infra.some((at) => at < 0)) return ["NATS or Postgres did not stop cleanly"];
  return services.flatMap((name) => {
    const at = output.indexOf(`herald: ${name} stopped (exit code 0)`);
    if (at < 0) return [`${name} did not drain`];
    return at > Math.min(...infra) ? [`${name} stopped after NATS or Postgres`] : [];
  });
}
