import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { WaitTimeoutError } from "./errors.js";

export interface WaitForOptions {
  /**
   * How long to wait (default 20 s: enough for a loaded 2-core machine, and under a test's own 30 s
   * limit, so that what was awaited is named); with `progress`, how long to wait without progress.
   */
  timeoutMs?: number;
  intervalMs?: number;
  /** Named in the timeout error: `timed out waiting for <what>`. */
  what?: string;
  /**
   * What moves while the awaited work goes on (a count, a stream sequence): each change starts
   * timeoutMs again, so a loaded machine that works slowly is waited for and a stall still fails.
   */
  progress?: () => unknown;
}

/** Polls `probe` until it returns a truthy value; a probe that throws counts as "not yet". */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const intervalMs = opts.intervalMs ?? 50;
  const what = opts.what ?? "condition";
  let deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastProgress: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (opts.progress !== undefined) {
      const now = await Promise.resolve(opts.progress()).catch(() => lastProgress);
      if (now !== lastProgress) deadline = Date.now() + timeoutMs;
      lastProgress = now;
    }
    if (Date.now() >= deadline) {
      const detail = lastError === undefined ? "" : `; last error: ${describeError(lastError)}`;
      const span =
        opts.progress === undefined ? ` after ${timeoutMs} ms` : `: no progress for ${timeoutMs} ms`;
      throw new WaitTimeoutError(`timed out waiting for ${what}${span}${detail}`, timeoutMs, {
        cause: lastError,
      });
    }
    await sleep(intervalMs);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; another process may still take it). */
/**
 * A port free to listen on at 127.0.0.1, for a server a test starts next. It comes from below the
 * kernel's ephemeral range (the ports outgoing connections take, 32768-60999 by default): a port
 * from that range, free now, may be taken by any connection before the server binds it (a service
 * then dies of EADDRINUSE). Ports handed out here are not handed out again by this process.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  for (let tries = 0; tries < 50; tries++) {
    const port = FIRST_TEST_PORT + Math.floor(Math.random() * (ephemeralLow - FIRST_TEST_PORT));
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check: a concurrent call must not pick it meanwhile
    if (await canListen(port)) return port;
    handedOut.delete(port);
  }
  // A crowded machine: any port the kernel gives.
  return canListen(0).then((port) => {
    if (port === undefined) throw new Error("freePort: no TCP port free at 127.0.0.1");
    return port;
  });
}

const FIRST_TEST_PORT = 10_000;
const handedOut = new Set<number>();

/** The kernel's ephemeral port range (Linux), or the usual default elsewhere. */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    if (Number(low) > FIRST_TEST_PORT) return [Number(low), Number(high)];
  } catch {
    // not Linux
  }
  return [32_768, 60_999];
}

/** The port bound when listening on `port` (0: any) at 127.0.0.1 works, else undefined. */
async function canListen(port: number): Promise<number | undefined> {
  const server = createServer();
  const bound = await new Promise<number | undefined>((resolve) => {
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      resolve(address !== null && typeof address !== "string" ? address.port : undefined);
    });
  });
  if (bound !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  return bound;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
