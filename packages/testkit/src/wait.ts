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
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("freePort: no TCP address");
  return address.port;
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
