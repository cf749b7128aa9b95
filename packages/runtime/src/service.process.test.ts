// Runs a real service main in a child process: signals, exit codes and log lines as an operator sees them.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");
const fixture = fileURLToPath(new URL("./__fixtures__/service-main.ts", import.meta.url));

interface LogLine {
  level: string;
  msg: string;
  service: string;
  [field: string]: unknown;
}

interface FixtureProcess {
  child: ChildProcess;
  stdoutLines: () => LogLine[];
  stderr: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function startFixture(env: Record<string, string>): FixtureProcess {
  const child = spawn(process.execPath, [tsxCli, fixture], {
    env: { PATH: process.env["PATH"] ?? "", HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    stdoutLines: () =>
      stdout
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as LogLine),
    stderr: () => stderr,
    exited,
  };
}

/** Polls the fixture's log until "service ready", then /readyz until it answers 200. */
async function waitUntilReady(fixtureProcess: FixtureProcess): Promise<string> {
  for (;;) {
    const exitCode = fixtureProcess.child.exitCode;
    if (exitCode !== null) throw new Error(`fixture exited ${exitCode}: ${fixtureProcess.stderr()}`);
    const ready = fixtureProcess.stdoutLines().find((line) => line.msg === "service ready");
    if (ready !== undefined) {
      const httpUrl = String(ready["httpUrl"]);
      const response = await fetch(`${httpUrl}/readyz`);
      if (response.status === 200) return httpUrl;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a service process", () => {
  it("drains on SIGTERM, logging each step in order, and exits 0", async () => {
    const service = startFixture({ FIXTURE_MODE: "clean" });
    await waitUntilReady(service);
    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);

    const lines = service.stdoutLines();
    expect(lines.every((line) => line.service === "fixture")).toBe(true);
    const stepLines = lines.filter((line) => line["step"] !== undefined);
    expect(stepLines.map((line) => [line["step"], line.msg, line.level])).toEqual([
      ["stop intake", "shutdown step finished", "info"],
      ["finish in-flight", "shutdown step failed", "error"],
      ["drain nats", "shutdown step finished", "info"],
    ]);
    expect(stepLines.every((line) => typeof line["durationMs"] === "number")).toBe(true);
    const messages = lines.map((line) => line.msg);
    expect(messages.indexOf("signal received")).toBeLessThan(messages.indexOf("service draining"));
    expect(messages.at(-1)).toBe("service stopped");
    expect(lines.at(-1)?.["state"]).toBe("stopped");
  });

  it("ignores a second signal while draining, then exits non-zero when a step hangs past the deadline", async () => {
    const service = startFixture({ FIXTURE_MODE: "hang", SHUTDOWN_DEADLINE_MS: "100" });
    await waitUntilReady(service);
    service.child.kill("SIGTERM");
    for (;;) {
      if (service.stdoutLines().some((line) => line.msg === "service draining")) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    service.child.kill("SIGINT");
    expect(await service.exited).toBe(1);

    const messages = service.stdoutLines().map((line) => line.msg);
    expect(messages).toContain("signal ignored: already shutting down");
    expect(messages).toContain("shutdown overran its deadline: forcing exit");
    expect(messages).not.toContain("service stopped");
  });

  it("exits 2 naming the field on stderr when the environment is bad", async () => {
    const service = startFixture({ HTTP_PORT: "abc" });
    expect(await service.exited).toBe(2);
    const [fatal, ...rest] = service.stderr().trim().split("\n");
    expect(rest).toEqual([]);
    expect(JSON.parse(fatal ?? "")).toMatchObject({
      level: "fatal",
      service: "fixture",
      field: "HTTP_PORT",
      msg: "invalid configuration: HTTP_PORT: expected a number",
    });
  });

  it("exits 1 with a fatal line when start() throws", async () => {
    const service = startFixture({ FIXTURE_MODE: "start-fails" });
    expect(await service.exited).toBe(1);
    const fatal = service.stdoutLines().find((line) => line.level === "fatal");
    expect(fatal).toMatchObject({
      msg: "service failed to start",
      err: { message: "fixture refuses to start" },
    });
  });
});
