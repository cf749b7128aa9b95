// CPU time of a process by pid, from /proc (Linux): what a service or nats-server spent on a run.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

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
