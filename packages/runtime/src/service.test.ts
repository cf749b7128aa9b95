import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { ServiceHandle, ShutdownStep, StartedService } from "./index.js";
import { baseEnvSchema, runService } from "./index.js";

const quietEnv = { LOG_LEVEL: "silent", HTTP_HOST: "127.0.0.1", HTTP_PORT: "0" };

function startService(started: StartedService, env: NodeJS.ProcessEnv = {}): Promise<ServiceHandle> {
  return runService({
    name: "service-test",
    schema: baseEnvSchema,
    env: { ...quietEnv, ...env },
    start: () => Promise.resolve(started),
  });
}

async function readyz(handle: ServiceHandle): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${handle.health.url}/readyz`);
  return { status: response.status, body: await response.json() };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("runService", () => {
  it("is not ready while start() runs, then reflects the checks", async () => {
    const port = await freePort();
    let finishStart = (): void => {};
    const startGate = new Promise<void>((resolve) => {
      finishStart = resolve;
    });
    let startEntered = (): void => {};
    const startRunning = new Promise<void>((resolve) => {
      startEntered = resolve;
    });
    let natsConnected = true;
    const running = runService({
      name: "service-test",
      schema: baseEnvSchema.extend({ FEATURE: z.string().default("on") }),
      env: { ...quietEnv, HTTP_PORT: String(port) },
      start: async ({ config }) => {
        expect(config.FEATURE).toBe("on");
        startEntered();
        await startGate;
        return { checks: { nats: () => natsConnected }, shutdown: [] };
      },
    });

    await startRunning;
    const whileStarting = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(whileStarting.status).toBe(503);
    expect(await whileStarting.json()).toEqual({ ready: false, checks: { started: false } });

    finishStart();
    const handle = await running;
    expect(handle.state).toBe("running");
    expect(await readyz(handle)).toEqual({
      status: 200,
      body: { ready: true, checks: { nats: true, started: true } },
    });
    natsConnected = false;
    expect((await readyz(handle)).status).toBe(503);

    const metrics = await (await fetch(`${handle.health.url}/metrics`)).text();
    expect(metrics).toContain('herald_service_state{state="running",service="service-test"} 1');
    expect(metrics).toContain('herald_service_state{state="starting",service="service-test"} 0');
    expect(metrics).toContain('herald_service_up{service="service-test"} 1');
    await handle.stop();
  });

  it("runs the shutdown steps in order and keeps going past a failing one", async () => {
    const ran: string[] = [];
    const step = (name: string, outcome: "finish" | "fail" = "finish"): ShutdownStep => ({
      name,
      run: async () => {
        ran.push(`${name} begun`);
        await new Promise((resolve) => setImmediate(resolve));
        ran.push(`${name} done`);
        if (outcome === "fail") throw new Error("consumer already closed");
      },
    });
    const sigtermListeners = process.listenerCount("SIGTERM");
    const handle = await startService({
      checks: {},
      shutdown: [
        step("stop intake"),
        step("finish in-flight", "fail"),
        step("drain nats"),
        step("close pools"),
      ],
    });
    expect(process.listenerCount("SIGTERM")).toBe(sigtermListeners + 1);

    const stopping = handle.stop("test over");
    expect(handle.stop()).toBe(stopping);
    expect(handle.state).toBe("draining");
    await stopping;
    await handle.stopped;

    expect(ran).toEqual(
      ["stop intake", "finish in-flight", "drain nats", "close pools"].flatMap((name) => [
        `${name} begun`,
        `${name} done`,
      ]),
    );
    expect(handle.state).toBe("stopped");
    expect(process.listenerCount("SIGTERM")).toBe(sigtermListeners);
    await expect(fetch(`${handle.health.url}/healthz`)).rejects.toThrow();
  });

  it("answers /readyz with 503 draining while the steps run", async () => {
    let releaseStep = (): void => {};
    const stepGate = new Promise<void>((resolve) => {
      releaseStep = resolve;
    });
    let stepStarted = (): void => {};
    const stepRunning = new Promise<void>((resolve) => {
      stepStarted = resolve;
    });
    const handle = await startService({
      checks: {},
      shutdown: [
        {
          name: "finish in-flight",
          run: async () => {
            stepStarted();
            await stepGate;
          },
        },
      ],
    });
    const stopping = handle.stop();
    await stepRunning;
    expect(await readyz(handle)).toEqual({ status: 503, body: { ready: false, draining: true } });
    releaseStep();
    await stopping;
    expect(handle.state).toBe("stopped");
  });

  it("aborts the steps' signal at the deadline and still runs the later steps", async () => {
    const seen: { step: string; aborted: boolean; reason?: string }[] = [];
    const handle = await startService(
      {
        checks: {},
        shutdown: [
          {
            name: "finish in-flight",
            run: (signal) =>
              new Promise<void>((resolve) => {
                signal.addEventListener("abort", () => {
                  seen.push({
                    step: "finish in-flight",
                    aborted: signal.aborted,
                    reason: (signal.reason as Error).name,
                  });
                  resolve();
                });
              }),
          },
          {
            name: "close pools",
            run: (signal) => {
              seen.push({ step: "close pools", aborted: signal.aborted });
              return Promise.resolve();
            },
          },
        ],
      },
      { SHUTDOWN_DEADLINE_MS: "50" },
    );
    await handle.stop();
    expect(seen).toEqual([
      { step: "finish in-flight", aborted: true, reason: "TimeoutError" },
      { step: "close pools", aborted: true },
    ]);
    // Finishing after the deadline is a failed shutdown: the process would exit 1.
    expect(handle.state).toBe("failed");
  });

  it("abandons a step that ignores its signal, so stop() always settles", async () => {
    const ran: string[] = [];
    const handle = await startService(
      {
        checks: {},
        shutdown: [
          { name: "hang", run: () => new Promise<void>(() => {}) },
          {
            name: "never reached",
            run: () => {
              ran.push("never reached");
              return Promise.resolve();
            },
          },
        ],
      },
      { SHUTDOWN_DEADLINE_MS: "20" },
    );
    await handle.stop();
    expect(handle.state).toBe("failed");
    expect(ran).toEqual([]);
    await expect(fetch(`${handle.health.url}/healthz`)).rejects.toThrow();
  });
});
