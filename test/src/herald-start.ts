// Runs `npm start` (or its script with node) the way a user does, in a temporary HERALD_HOME,
// for the tests of the local supervisor (test/src/start*.test.ts).
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

/** The variables that choose npm start's ports; each wins over the port kept in ports.json. */
export const PORT_VARIABLES = [
  "GRPC_PORT",
  "HERALD_LOGSTORE_GRPC_PORT",
  "ADMIN_PORT",
  "HERALD_HEALTH_PORT",
  "HERALD_NATS_PORT",
  "HERALD_PG_PORT",
] as const;

// Other Heralds may start at the same time (test files run in parallel): no preferred ports.
export const ANY_FREE_PORTS = Object.fromEntries(PORT_VARIABLES.map((name) => [name, "0"]));

/** How long a start may take to print its banner: a first start on a loaded 2-core machine is slow. */
const START_TIMEOUT_MS = 240_000;

export interface RunningHerald {
  /** The process the test started: `npm start`, or node running scripts/start.mjs. */
  readonly child: ChildProcessWithoutNullStreams;
  /** That process's exit code. */
  readonly exited: Promise<number | null>;
  /** The pid of the supervisor (node scripts/start.mjs), the child itself unless it is npm. */
  readonly supervisorPid: number;
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
  /** Every process of this Herald now: the started one and all below it (Postgres's backends too). */
  processes(): HeraldProcess[];
  /** `work`'s result, or an error with the supervisor's output if the supervisor exits first. */
  whileRunning<T>(work: Promise<T>): Promise<T>;
}

export interface StartOptions {
  /** How the user starts it: `npm start` (npm, then node scripts/start.mjs) or node directly. */
  via?: "npm" | "node";
  /** Runs while Herald starts, beside the wait for its banner. */
  duringStart?: (starting: Pick<RunningHerald, "childPid">) => Promise<void>;
}

/**
 * Starts Herald with embedded NATS and Postgres under `home` and waits until it says it is running;
 * throws with its output if it exits or stays silent first. `env` adds to the environment, and an
 * undefined value removes a variable (e.g. a port variable, so that ports.json decides).
 */
export async function startHerald(
  home: string,
  env: Record<string, string | undefined> = {},
  { via = "node", duringStart }: StartOptions = {},
): Promise<RunningHerald> {
  // Embedded defaults: whatever NATS or Postgres the test run was given is not passed on.
  const { NATS_URL: _nats, DATABASE_URL: _db, ...inherited } = process.env;
  const fullEnv = Object.fromEntries(
    Object.entries({ ...inherited, HERALD_HOME: home, ...ANY_FREE_PORTS, ...env }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  );
  const [command, args] =
    via === "npm" ? ["npm", ["start"]] : [process.execPath, [path.join(root, "scripts/start.mjs")]];
  const child = spawn(command, args, {
    cwd: root,
    // A process group of its own, as in a terminal: interrupt() is Ctrl-C to the whole group.
    detached: true,
    env: fullEnv,
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const running = (): boolean => out.includes("Press Ctrl-C to stop.");
  const supervisor = (): number | undefined =>
    via === "npm"
      ? descendants(child.pid!).find((p) => p.cmdline.includes("scripts/start.mjs"))?.pid
      : child.pid;
  const childPid = (marker: string): number | undefined => {
    const parent = supervisor();
    return parent === undefined ? undefined : childPids(parent).find((c) => c.cmdline.includes(marker))?.pid;
  };
  try {
    await Promise.all([
      waitFor(() => running() || child.exitCode !== null, {
        timeoutMs: START_TIMEOUT_MS,
        what: "Herald to start",
      }),
      duringStart?.({ childPid }),
    ]);
  } catch (err) {
    // Nothing of it may outlive the test; its output says where it hung.
    process.kill(-child.pid!, "SIGINT");
    await waitFor(() => child.exitCode !== null, { timeoutMs: 60_000 }).catch(() => {});
    throw new Error(`${(err as Error).message}; Herald's output:\n${out}`, { cause: err });
  }
  if (!running()) {
    throw new Error(`Herald exited (${child.exitCode}) before it was running; its output:\n${out}`);
  }
  const health = Object.fromEntries(
    [...out.matchAll(/^ +(\w+) +health +(http:\S+)\/healthz/gm)].map((m) => [m[1]!, m[2]!]),
  );
  const supervisorPid = supervisor()!;
  return {
    child,
    exited,
    supervisorPid,
    grpc: /gRPC for the chat core\s+(\S+)/.exec(out)?.[1],
    admin: /admin API\s+(\S+)\/v1\/apps/.exec(out)?.[1],
    health,
    output: () => out,
    interrupt: () => process.kill(-child.pid!, "SIGINT"),
    childPid,
    processes: () => [processAt(child.pid!), ...descendants(child.pid!)].filter((p) => p !== undefined),
    whileRunning: <T>(work: Promise<T>) =>
      Promise.race([
        work,
        exited.then((code): never => {
          throw new Error(`Herald exited (${code}) meanwhile; its output:\n${out}`);
        }),
      ]),
  };
}

/** A process as /proc shows it (Linux); `started` (clock ticks after boot) tells it from a later one with its pid. */
export interface HeraldProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly started: string;
  readonly cmdline: string;
}

/** The process with `pid` if it lives; a process killed but not yet reaped (a zombie) does not. */
function processAt(pid: number): HeraldProcess | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (which may hold spaces) are: state, ppid, …; starttime is the 20th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    if (fields[0] === "Z" || cmdline.trim() === "") return undefined;
    return { pid, ppid: Number(fields[1]), started: fields[19]!, cmdline };
  } catch {
    return undefined; // the process ended while we looked
  }
}

/** Every live process on the machine, from /proc (Linux). */
export function allProcesses(): HeraldProcess[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => processAt(Number(entry)))
    .filter((p) => p !== undefined);
}

/**
 * The live child processes of `parent` with their command lines: the supervisor's NATS, Postgres
 * and services are found by what they run, before and after a restart.
 */
function childPids(parent: number): HeraldProcess[] {
  return allProcesses().filter((p) => p.ppid === parent);
}

/** Every live process below `ancestor`. */
function descendants(ancestor: number): HeraldProcess[] {
  const all = allProcesses();
  const found: HeraldProcess[] = [];
  const parents = new Set([ancestor]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

/** Those of `seen` that still run (the same process: same pid, same start time). */
export function stillRunning(seen: readonly HeraldProcess[]): HeraldProcess[] {
  return seen.filter((p) => processAt(p.pid)?.started === p.started);
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
