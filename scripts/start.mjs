// One command to run Herald on one machine: NATS with JetStream and Postgres under .herald/
// (unless NATS_URL / DATABASE_URL name real servers), then the six services, all kept running
// by a supervisor (scripts/lib/supervisor.mjs): what dies is restarted within a restart budget.
// Ctrl-C stops it all in order: services drain first, then NATS and Postgres. A second start
// reuses the data.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureBuilt, ensureDependencies, root } from "./lib/bootstrap.mjs";
import { startNats } from "./lib/nats.mjs";
import { pickPort } from "./lib/ports.mjs";
import { startPostgres } from "./lib/postgres.mjs";
import { createSupervisor, prefix, restartBudget, waitUntil } from "./lib/supervisor.mjs";

const SERVICES = ["gateway", "evaluator", "presence", "chatroom", "deliverer", "logstore"];
const stateDir = path.resolve(root, process.env.HERALD_HOME || ".herald");
// One machine is local development: every server listens on loopback unless told otherwise (the
// services' own defaults, which the manifests use, are all interfaces).
const hosts = {
  grpc: process.env.GRPC_HOST || "127.0.0.1",
  admin: process.env.ADMIN_HOST || "127.0.0.1",
  http: process.env.HTTP_HOST || "127.0.0.1",
};
let supervisor;

async function main() {
  const budget = restartBudget();
  supervisor = createSupervisor(budget);
  ensureDependencies();
  ensureBuilt([...SERVICES.map((name) => `services/${name}`), "packages/cli"]);
  mkdirSync(stateDir, { recursive: true });

  const natsUrl = process.env.NATS_URL || (await startNats(supervisor, stateDir));
  const databaseUrl = process.env.DATABASE_URL || (await startPostgres(supervisor, stateDir));

  const grpcPort = await pickPort(Number(process.env.GRPC_PORT ?? 50051));
  // Only the gateway (chat core) and the log store (log queries, asked by the gateway) serve gRPC.
  const logstoreGrpcPort = await pickPort(Number(process.env.HERALD_LOGSTORE_GRPC_PORT ?? 50052));
  const grpcPorts = { gateway: grpcPort, logstore: logstoreGrpcPort };
  const adminPort = await pickPort(Number(process.env.ADMIN_PORT ?? 8088));
  const adminToken = process.env.ADMIN_TOKEN || adminTokenOnDisk();
  // Health ports run from HERALD_HEALTH_PORT up, one per service; 0: any free ones.
  const healthPortBase = Number(process.env.HERALD_HEALTH_PORT ?? 8081);
  const health = {};
  const ready = [];
  for (const [i, name] of SERVICES.entries()) {
    const httpPort = await pickPort(healthPortBase === 0 ? 0 : healthPortBase + i);
    health[name] = `http://${address(reachable(hosts.http), httpPort)}`;
    ready.push(
      superviseService(name, `${health[name]}/readyz`, {
        ...process.env,
        NATS_URL: natsUrl,
        DATABASE_URL: databaseUrl,
        HTTP_HOST: hosts.http,
        HTTP_PORT: String(httpPort),
        GRPC_HOST: hosts.grpc,
        GRPC_PORT: String(grpcPorts[name] ?? 0),
        ...(name === "gateway"
          ? {
              LOGSTORE_ADDRESS: address(reachable(hosts.grpc), logstoreGrpcPort),
              ADMIN_HOST: hosts.admin,
              ADMIN_PORT: String(adminPort),
              ADMIN_TOKEN: adminToken,
              // Both gRPC ports take the shell's GRPC_AUTH_TOKEN here, so the gateway sends it on.
              ...(process.env.GRPC_AUTH_TOKEN && !process.env.LOGSTORE_AUTH_TOKEN
                ? { LOGSTORE_AUTH_TOKEN: process.env.GRPC_AUTH_TOKEN }
                : {}),
            }
          : {}),
        // One machine is local development: business servers on loopback are allowed.
        DELIVERY_ALLOW_LOOPBACK: process.env.DELIVERY_ALLOW_LOOPBACK ?? "true",
      }),
    );
  }
  await Promise.all(ready);

  const admin = `http://${address(hosts.admin, adminPort)}`;
  console.log(
    [
      "",
      "Herald is running.",
      `  gRPC for the chat core   ${address(hosts.grpc, grpcPort)}   (herald.v1.HeraldService)`,
      `  gRPC log queries         ${address(hosts.grpc, logstoreGrpcPort)}   (herald.v1.DeliveryLogService)`,
      `  admin panel              ${admin}/admin/   (token: ${process.env.ADMIN_TOKEN ? "$ADMIN_TOKEN" : path.relative(process.cwd(), tokenFile())})`,
      `  admin API                ${admin}/v1/apps   (OpenAPI: /openapi.json)`,
      ...SERVICES.map(
        (s) => `  ${s.padEnd(10)} health   ${health[s]}/healthz  ${health[s]}/readyz  ${health[s]}/metrics`,
      ),
      `  NATS                     ${natsUrl}`,
      `  Postgres                 ${databaseUrl.replace(/:[^:@/]*@/, ":***@")}`,
      `  restarts                 at most ${budget.max} per process in ${budget.windowMs / 1000} s (HERALD_RESTART_MAX, HERALD_RESTART_WINDOW_MS)`,
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
}

/** host:port, with an IPv6 host in brackets. */
function address(host, port) {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Where to connect to a server that listens on `host`: "all interfaces" is reached on loopback. */
function reachable(host) {
  if (host === "0.0.0.0") return "127.0.0.1";
  return host === "::" ? "::1" : host;
}

// --- admin token ------------------------------------------------------------------------------

function tokenFile() {
  return path.join(stateDir, "admin-token");
}

// One token per installation, kept with its data and readable only by its owner.
function adminTokenOnDisk() {
  if (existsSync(tokenFile())) return readFileSync(tokenFile(), "utf8").trim();
  const token = randomBytes(24).toString("base64url");
  writeFileSync(tokenFile(), `${token}\n`, { mode: 0o600 });
  return token;
}

// --- services ---------------------------------------------------------------------------------

/** Runs a service under the supervisor; resolves once its /readyz answers 200. */
function superviseService(name, readyUrl, env) {
  const main = path.join(root, "services", name, "dist/main.js");
  return supervisor.keep({
    label: name,
    tier: "service",
    spawn: () => {
      const child = spawn(process.execPath, [main], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      prefix(name, child.stdout);
      prefix(name, child.stderr);
      return child;
    },
    ready: (signal) =>
      waitUntil(
        async () => {
          const res = await fetch(readyUrl);
          await res.arrayBuffer();
          return res.ok;
        },
        { what: `${name} to answer ${readyUrl}`, signal },
      ),
  });
}

main().catch((err) => {
  console.error(`herald: ${err.message}`);
  if (supervisor) void supervisor.stopAll(err.exitCode ?? 1);
  else process.exit(err.exitCode ?? 1);
});
