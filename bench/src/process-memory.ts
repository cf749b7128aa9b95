// Memory of a process by pid, from /proc (Linux): what nats-server or a service holds after a run.
import { readFileSync } from "node:fs";

/** Resident set now (VmRSS) and its peak so far (VmHWM) in MB, NaN if the process is gone. */
export function residentMb(pid: number | undefined): { rss: number; peak: number } {
  if (pid === undefined) return { rss: NaN, peak: NaN };
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return { rss: NaN, peak: NaN };
  }
}
