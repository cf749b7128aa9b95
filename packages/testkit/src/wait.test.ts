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
});
