// `npm start` as a service: whatever signal reaches the process the user (or a process manager)
// started, npm or node, everything stops in order and no process of Herald is left; a SIGKILL of
// the supervisor leaves none of its children; the ports it chose are kept for the next start.
import { chmod, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { waitFor } from "@herald/testkit";
import {
  PORT_VARIABLES,
  SERVICE_NAMES,
  startHerald,
  stillRunning,
  stopOrderProblems,
  type HeraldProcess,
  type RunningHerald,
} from "./herald-start.js";

interface KeptPorts {
  grpc: number;
  logstoreGrpc: number;
  admin: number;
  nats: number;
  postgres: number;
  health: Record<string, number>;
}

const home = await mkdtemp(path.join(tmpdir(), "herald-home-"));
const tempDirs = [home];
const readPorts = async (): Promise<KeptPorts> =>
  JSON.parse(await readFile(path.join(home, "ports.json"), "utf8")) as KeptPorts;

afterAll(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

/** The processes of a running Herald: the one started, the supervisor, NATS, Postgres and its backends, the services. */
function heraldProcesses(herald: RunningHerald): HeraldProcess[] {
  const all = herald.processes();
  const running = (marker: string) => all.filter((p) => p.cmdline.includes(marker));
  expect(running("scripts/start.mjs")).toHaveLength(1);
  expect(running(path.join(home, "nats"))).toHaveLength(1);
  expect(running(path.join(home, "postgres"))).toHaveLength(1);
  for (const name of SERVICE_NAMES) expect(running(`services/${name}/dist/main.js`)).toHaveLength(1);
  return all;
}

async function noneLeft(seen: readonly HeraldProcess[]): Promise<void> {
  await waitFor(() => stillRunning(seen).length === 0, {
    timeoutMs: 60_000,
    what: "every process of Herald to be gone",
  }).catch((err: unknown) => {
    const left = stillRunning(seen).map((p) => `${p.pid} ${p.cmdline}`);
    throw new Error(`still running:\n${left.join("\n")}`, { cause: err });
  });
}

/** Whether a start whose output is `out` listens on the kept port `was`, or said why not. */
function keptOrSaid(out: string, was: number, now: number): boolean {
  return now === was || out.includes(`herald: port ${was} is taken; using ${now}`);
}

const NO_PORT_VARIABLES = Object.fromEntries(PORT_VARIABLES.map((name) => [name, undefined]));

/** A PATH with every command of this one but `command`: a machine without it. */
async function pathWithout(command: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "herald-path-"));
  tempDirs.push(dir);
  // As root, Postgres runs as the postgres user, who runs commands from this PATH too.
  await chmod(dir, 0o755);
  for (const bin of (process.env["PATH"] ?? "").split(path.delimiter)) {
    for (const name of await readdir(bin).catch(() => [])) {
      // The first on PATH wins, as for a shell: a later one with the same name is left out.
      if (name !== command) await symlink(path.join(bin, name), path.join(dir, name)).catch(() => {});
    }
  }
  return dir;
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

// In order: each start reuses the home (and the ports) of the one before.
describe("npm start as a service", () => {
  it(
    "stops in order and leaves no process on SIGTERM to `npm start`, and keeps the ports it chose",
    { timeout: 360_000 },
    async () => {
      const herald = await startHerald(home, {}, { via: "npm" });
      const seen = heraldProcesses(herald);
      const out = herald.output();
      // What it does before the banner is said as it happens.
      expect(out).toContain("herald: checking the build (tsc -b)…");
      expect(out.indexOf("herald: checking the build")).toBeLessThan(out.indexOf("Herald is running."));

      const ports = await readPorts();
      expect(herald.grpc).toBe(`127.0.0.1:${ports.grpc}`);
      expect(herald.admin).toBe(`http://127.0.0.1:${ports.admin}`);
      expect(out).toContain(`nats://127.0.0.1:${ports.nats}`);
      expect(out).toContain(`@127.0.0.1:${ports.postgres}/herald`);
      expect(out).toContain(`gRPC log queries         127.0.0.1:${ports.logstoreGrpc}`);
      expect(Object.keys(ports.health).sort()).toEqual([...SERVICE_NAMES].sort());
      for (const name of SERVICE_NAMES)
        expect(herald.health[name]).toBe(`http://127.0.0.1:${ports.health[name]}`);

      // What a process manager sends, to npm alone: npm forwards it to start.mjs.
      process.kill(herald.child.pid!, "SIGTERM");
      expect(await herald.exited).toBe(0);
      expect(herald.output()).toContain("herald: stopped");
      expect(stopOrderProblems(herald.output())).toEqual([]);
      await noneLeft(seen);
    },
  );

  it(
    "prefers the kept ports on the next start, replaces a taken one and says so; SIGTERM to node stops it",
    { timeout: 300_000 },
    async () => {
      const before = await readPorts();
      const taken = await listen(before.nats);
      let herald: RunningHerald;
      try {
        // No port variables: ports.json decides.
        herald = await startHerald(home, NO_PORT_VARIABLES);
      } finally {
        taken.close();
      }
      const seen = heraldProcesses(herald);
      const after = await readPorts();
      const out = herald.output();
      expect(out).toContain(`herald: port ${before.nats} is taken; using ${after.nats}`);
      expect(out).toContain(`nats://127.0.0.1:${after.nats}`);
      // Every other port is the one kept, unless another process took it meanwhile (then it says so).
      const kept = (was: number, now: number) => keptOrSaid(out, was, now);
      for (const key of ["grpc", "logstoreGrpc", "admin", "postgres"] as const) {
        expect(kept(before[key], after[key]), `${key}: ${before[key]} then ${after[key]}`).toBe(true);
      }
      for (const name of SERVICE_NAMES) {
        expect(kept(before.health[name]!, after.health[name]!), `health of ${name}`).toBe(true);
      }
      expect(herald.grpc).toBe(`127.0.0.1:${after.grpc}`);

      process.kill(herald.supervisorPid, "SIGTERM");
      expect(await herald.exited).toBe(0);
      expect(stopOrderProblems(herald.output())).toEqual([]);
      await noneLeft(seen);
    },
  );

  it(
    "stops in order when npm dies of what it does not forward (SIGKILL, SIGHUP)",
    { timeout: 300_000 },
    async () => {
      const herald = await startHerald(home, {}, { via: "npm" });
      const seen = heraldProcesses(herald);
      process.kill(herald.child.pid!, "SIGKILL");
      await noneLeft(seen);
      expect(herald.output()).toContain(
        `herald: the package manager that started Herald (pid ${herald.child.pid}) is gone`,
      );
      expect(stopOrderProblems(herald.output())).toEqual([]);
      expect(herald.output()).toContain("herald: stopped");
    },
  );

  it(
    "restarts a service that dies before it was ready; NATS keeps its port; after a SIGKILL of start.mjs none of its children are left",
    { timeout: 300_000 },
    async () => {
      const before = await readPorts();
      const herald = await startHerald(home, NO_PORT_VARIABLES, {
        // Killed as soon as it runs, long before it can answer /readyz.
        duringStart: async ({ childPid }) => {
          const pid = await waitFor(() => childPid("services/logstore/dist/main.js"), {
            timeoutMs: 120_000,
            what: "the log store to run",
          });
          process.kill(pid, "SIGKILL");
        },
      });
      expect(herald.output()).toMatch(/logstore exited \(signal SIGKILL\); restarting it \(attempt 1 of 5/);
      expect(herald.output()).toMatch(/herald: logstore is up \(pid \d+\)/);
      // Not a new random port on every start (the kept one was not the default 4222).
      const { nats } = await readPorts();
      expect(keptOrSaid(herald.output(), before.nats, nats), `NATS: ${before.nats} then ${nats}`).toBe(true);
      expect(herald.output()).toContain(`nats://127.0.0.1:${nats}`);
      const seen = heraldProcesses(herald).filter((p) => p.pid !== herald.supervisorPid);

      process.kill(herald.supervisorPid, "SIGKILL");
      expect(await herald.exited).toBeNull();
      await noneLeft(seen);
    },
  );

  it(
    "without setpriv, a watchdog stands in: after a SIGKILL of start.mjs none of its children are left",
    { timeout: 300_000 },
    async () => {
      const herald = await startHerald(home, { PATH: await pathWithout("setpriv") });
      const seen = heraldProcesses(herald).filter((p) => p.pid !== herald.supervisorPid);
      expect(seen.filter((p) => p.cmdline.includes("scripts/lib/watchdog.mjs"))).toHaveLength(1);

      process.kill(herald.supervisorPid, "SIGKILL");
      expect(await herald.exited).toBeNull();
      await noneLeft(seen);
    },
  );
});
