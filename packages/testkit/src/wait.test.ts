import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { WaitTimeoutError } from "./errors.js";
import { freePort, waitFor } from "./wait.js";

describe("waitFor", () => {
  it("resolves with the first truthy value", async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it("rejects naming what it waited for and the probe's last error", async () => {
    const waiting = waitFor(
      () => {
        throw new Error("connection refused");
      },
      { timeoutMs: 50, intervalMs: 5, what: "the gateway" },
    );
    await expect(waiting).rejects.toThrow(WaitTimeoutError);
    await expect(waiting).rejects.toThrow(/timed out waiting for the gateway.*connection refused/);
  });
});

describe("waitFor with progress", () => {
  it("waits past timeoutMs while the progress moves, and fails once it stalls", async () => {
    // Each poll is progress; 100 polls 20 ms apart outlast the 1 s that bounds a stall.
    let polls = 0;
    const finished = await waitFor(() => ++polls >= 100, {
      timeoutMs: 1_000,
      intervalMs: 20,
      progress: () => polls,
    });
    expect(finished).toBe(true);

    let calls = 0;
    const stalled = waitFor(() => false, {
      timeoutMs: 50,
      intervalMs: 5,
      what: "the fold",
      progress: () => Math.min(++calls, 3),
    });
    await expect(stalled).rejects.toThrow(/^timed out waiting for the fold: no progress for 50 ms$/);
  });
});

describe("freePort", () => {
  it("returns a port that can be bound on 127.0.0.1", async () => {
    const port = await freePort();
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(port).toBeGreaterThan(0);
  });

  it("stays below the ephemeral range, where outgoing connections cannot take the port first, and never repeats", async () => {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) expect(port).toBeLessThan(Number(low));
    expect(new Set(ports).size).toBe(ports.length);
  });
});
