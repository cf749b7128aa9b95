// CPU time of a process by pid, from /proc (Linux): what a service or nats-server spent on a run.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceProcess } from "@herald/e2e";

const TICKS_PER_SECOND = clockTicks();

function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** User plus system CPU seconds the process has used so far (utime + stime of /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** The pid of the nats-server listening on `url`'s port (a local fixture), or undefined. */
export function natsServerPid(url: string): number | undefined {
  const port = new URL(url).port;
  for (const dir of readdirSync("/proc")) {
    if (!/^\d+$/.test(dir)) continue;
    try {
      const args = readFileSync(`/proc/${dir}/cmdline`, "utf8").split("\0");
      if (!(args[0] ?? "").endsWith("nats-server")) continue;
      const p = args.indexOf("-p");
      if (p >= 0 && args[p + 1] === port) return Number(dir);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return undefined;
}

/** CPU seconds of several processes, read together before and after a run. */
export function cpuMeter(pids: readonly (number | undefined)[]): () => number[] {
  const read = () => pids.map((pid) => (pid === undefined ? NaN : cpuSeconds(pid)));
  const before = read();
  return () => read().map((after, i) => after - (before[i] ?? NaN));
}

const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const PRELOAD = fileURLToPath(new URL("./cpu-profile-preload.mjs", import.meta.url));

/**
 * A service's NODE_OPTIONS: BENCH_SERVICE_NODE_OPTIONS (e.g. "--max-semi-space-size=64"), and
 * with BENCH_PROFILE_DIR the preload that profiles the timed runs (see cpu-profile-preload.mjs).
 */
export function profiledEnv(): Record<string, string> {
  const options = [process.env.BENCH_SERVICE_NODE_OPTIONS ?? ""];
  if (PROFILE_DIR !== undefined) options.push(`--import ${PRELOAD}`);
  const nodeOptions = options.join(" ").trim();
  return {
    ...(nodeOptions === "" ? {} : { NODE_OPTIONS: nodeOptions }),
    ...(PROFILE_DIR === undefined ? {} : { BENCH_PROFILE_DIR: path.resolve(PROFILE_DIR) }),
  };
}

/** Starts, or stops and writes, the CPU profile of each service (when BENCH_PROFILE_DIR is set). */
export function profileToggle(services: readonly ServiceProcess[]): void {
  if (PROFILE_DIR === undefined) return;
  for (const s of services) s.child.kill("SIGUSR2");
}
