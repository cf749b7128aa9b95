import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { freePort, waitFor } from "@herald/testkit";

const root = fileURLToPath(new URL("../..", import.meta.url));
const tsx = path.join(root, "node_modules/tsx/dist/esm/index.mjs");

export type ServiceName = "gateway" | "evaluator" | "presence" | "chatroom" | "deliverer" | "logstore";

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly httpUrl: string;
  /** The gRPC address (host:port) of the gateway and the log store; empty for the other services. */
  readonly grpcAddress: string;
  /** The gateway's admin API and panel (http://127.0.0.1:<port>); empty for the other services. */
  readonly adminUrl: string;
  readonly child: ChildProcess;
  /** Every line the process wrote, stdout and stderr. */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readyz(): Promise<number>;
  waitReady(): Promise<void>;
  /** SIGTERM, then the exit code once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs a service the way production does (its own process, configured by env), from its
 * TypeScript source so that a test never runs a stale build. Each test file gets its own
 * ports; the namespace keeps tests that share one NATS apart.
 */
export async function startService(
  name: ServiceName,
  env: { NATS_URL: string; HERALD_NAMESPACE?: string; DATABASE_URL?: string } & Record<string, string>,
): Promise<ServiceProcess> {
  const httpPort = await freePort();
  const grpcPort = name === "gateway" || name === "logstore" ? await freePort() : 0;
  const adminPort = name === "gateway" ? await freePort() : 0;
  const child = spawn(
    process.execPath,
    ["--conditions=@herald/source", "--import", tsx, path.join(root, "services", name, "src/main.ts")],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        LOG_LEVEL: "info",
        HTTP_HOST: "127.0.0.1",
        HTTP_PORT: String(httpPort),
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        ADMIN_HOST: "127.0.0.1",
        ADMIN_PORT: String(adminPort),
        SHUTDOWN_DEADLINE_MS: "10000",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  let gone = false;
  void exited.then(() => (gone = true));

  const service: ServiceProcess = {
    name,
    httpUrl,
    grpcAddress: grpcPort === 0 ? "" : `127.0.0.1:${grpcPort}`,
    adminUrl: adminPort === 0 ? "" : `http://127.0.0.1:${adminPort}`,
    child,
    lines,
    exited,
    async readyz() {
      const res = await fetch(`${httpUrl}/readyz`);
      return res.status;
    },
    async waitReady() {
      // Generous: on a loaded two-core machine a log store with its migrations can take half a minute.
      await waitFor(
        async () => {
          if (gone) throw new Error(`${name} exited before it was ready:\n${lines.slice(-20).join("\n")}`);
          return (await service.readyz().catch(() => 0)) === 200;
        },
        { timeoutMs: 90_000, what: `${name} to be ready` },
      );
    },
    async stop(signal = "SIGTERM") {
      if (!gone) child.kill(signal);
      return (await exited).code;
    },
  };
  return service;
}

/** Stops whatever a test left running; safe on processes that already exited. */
export async function stopAll(services: readonly ServiceProcess[]): Promise<void> {
  await Promise.all(
    services.map(async (s) => {
      const timer = setTimeout(() => s.child.kill("SIGKILL"), 15_000);
      await s.stop();
      clearTimeout(timer);
    }),
  );
}
