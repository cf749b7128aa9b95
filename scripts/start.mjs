// One command to run Herald on one machine: NATS with JetStream and Postgres under .herald/
// (unless NATS_URL / DATABASE_URL name real servers), then the six services, all kept running
// by a supervisor (scripts/lib/supervisor.mjs): what dies is restarted within a restart budget.
// Ctrl-C, SIGTERM, SIGHUP, or the death of the npm that runs it, stops it all in order: services
// drain first, then NATS and Postgres; nothing it started outlives it, even a SIGKILL of it. A
// second start reuses the data and, where they are free, the ports (kept in
// $HERALD_HOME/ports.json).
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ensureBuilt, ensureDependencies, root } from "./lib/bootstrap.mjs";
import { startNats } from "./lib/nats.mjs";
import { keepPorts, keptPorts, pickPort, preferredPort } from "./lib/ports.mjs";
import { createSupervisor, prefix, restartBudget } from "./lib/supervisor.mjs";

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
  await ensureDependencies();
  console.log("herald: checking the build (tsc -b)…");
  await ensureBuilt([...SERVICES.map((name) => `services/${name}`), "packages/cli"]);
  mkdirSync(stateDir, { recursive: true });
  const ports = await choosePorts();
  keepPorts(stateDir, ports);
  const natsUrl = process.env.NATS_URL || (await startNats(supervisor, stateDir, ports.nats));
  // postgres.mjs needs pg, which a fresh checkout has only once the dependencies are installed.
  const { startPostgres } = await import("./lib/postgres.mjs");
  const databaseUrl = process.env.DATABASE_URL || (await startPostgres(supervisor, stateDir, ports.postgres));

  // Only the gateway (chat core) and the log store (log queries, asked by the gateway) serve gRPC.
  const grpcPorts = { gateway: ports.grpc, logstore: ports.logstoreGrpc };
  const adminToken = process.env.ADMIN_TOKEN || adminTokenOnDisk();
  const health = {};
  const ready = [];
  for (const name of SERVICES) {
    const httpPort = ports.health[name];
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
              LOGSTORE_ADDRESS: address(reachable(hosts.grpc), ports.logstoreGrpc),
              ADMIN_HOST: hosts.admin,
              ADMIN_PORT: String(ports.admin),
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

  const admin = `http://${address(hosts.admin, ports.admin)}`;
  console.log(
    [
      "",
      "Herald is running.",
      `  gRPC for the chat core   ${address(hosts.grpc, ports.grpc)}   (herald.v1.HeraldService)`,
      `  gRPC log queries         ${address(hosts.grpc, ports.logstoreGrpc)}   (herald.v1.DeliveryLogService)`,
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

// --- ports ------------------------------------------------------------------------------------

/**
 * Every port this start listens on: the environment's, else the one the last start kept, else
 * the default; one that is taken is replaced by a free one (and the printout says so). NATS and
 * Postgres only when they are embedded.
 */
async function choosePorts(env = process.env) {
  const kept = keptPorts(stateDir);
  const chosen = new Set();
  const choose = async (fromEnv, last, fallback) => {
    const port = await pickPort(preferredPort(fromEnv, last, fallback), chosen);
    chosen.add(port);
    return port;
  };
  const ports = {
    grpc: await choose(env.GRPC_PORT, kept.grpc, 50051),
    logstoreGrpc: await choose(env.HERALD_LOGSTORE_GRPC_PORT, kept.logstoreGrpc, 50052),
    admin: await choose(env.ADMIN_PORT, kept.admin, 8088),
    ...(env.NATS_URL ? {} : { nats: await choose(env.HERALD_NATS_PORT, kept.nats, 4222) }),
    ...(env.DATABASE_URL ? {} : { postgres: await choose(env.HERALD_PG_PORT, kept.postgres, 5433) }),
    health: {},
  };
  // Health ports run from HERALD_HEALTH_PORT up, one per service (0: any free ones).
  const base = env.HERALD_HEALTH_PORT ? Number(env.HERALD_HEALTH_PORT) : undefined;
  for (const [i, name] of SERVICES.entries()) {
    const fromEnv = base === undefined ? undefined : String(base === 0 ? 0 : base + i);
    ports.health[name] = await choose(fromEnv, kept.health?.[name], 8081 + i);
  }
  return ports;
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
    spawn: (spawnChild) => {
      const child = spawnChild(process.execPath, [main], { env, stdio: ["ignore", "pipe", "pipe"] });
      prefix(name, child.stdout);
      prefix(name, child.stderr);
      return child;
    },
    probe: async () => {
      const res = await fetch(readyUrl);
      await res.arrayBuffer();
      return res.ok;
    },
    waitingFor: `${name} to answer ${readyUrl}`,
  });
}

main().catch((err) => {
  console.error(`herald: ${err.message}`);
  if (supervisor) void supervisor.stopAll(err.exitCode ?? 1);
  else process.exit(err.exitCode ?? 1);
});
