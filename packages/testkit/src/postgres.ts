import pg from "pg";
import { containerRuntimeAvailable } from "./container-runtime.js";
import { startEmbeddedPostgresCluster, type RunningPostgresServer } from "./embedded-postgres-cluster.js";
import { FixtureStartError } from "./errors.js";
import { randomToken } from "./random-token.js";

export interface PostgresFixture {
  /** Connection URL of this fixture's own fresh database. */
  url: string;
  database: string;
  /** Drops the database (and, with the last fixture of this process, stops a server it started). */
  stop(): Promise<void>;
  readonly source: "env" | "container" | "embedded";
}

const POSTGRES_IMAGE = "postgres:17-alpine";

/**
 * A fresh database on: DATABASE_URL's server if set; else a Testcontainers Postgres if a container
 * runtime answers; else an embedded-postgres cluster. One server per process, one database per call.
 */
export async function startPostgres(): Promise<PostgresFixture> {
  const forced = process.env["HERALD_TEST_POSTGRES"];
  if (forced === "embedded") return createDatabaseOn("embedded", embeddedServer);
  if (forced === "container") return createDatabaseOn("container", containerServer);
  if (forced) {
    throw new FixtureStartError(
      `HERALD_TEST_POSTGRES must be "embedded" or "container", not "${forced}"`,
      "postgres",
    );
  }
  const envUrl = process.env["DATABASE_URL"];
  if (envUrl)
    return createDatabaseOn("env", new SharedServer(() => Promise.resolve({ adminUrl: envUrl, stop: noop })));
  if (await containerRuntimeAvailable()) return createDatabaseOn("container", containerServer);
  return createDatabaseOn("embedded", embeddedServer);
}

/** Started on first use, stopped when the last database on it is dropped. */
class SharedServer {
  private running: Promise<RunningPostgresServer> | undefined;
  private users = 0;
  // Start and stop in turn, so a call during a stop waits and then starts a fresh server.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly launch: () => Promise<RunningPostgresServer>) {}

  acquire(): Promise<string> {
    return this.serialise(async () => {
      this.running ??= this.launch();
      try {
        const { adminUrl } = await this.running;
        this.users++;
        return adminUrl;
      } catch (err) {
        this.running = undefined;
        throw err;
      }
    });
  }

  release(): Promise<void> {
    return this.serialise(async () => {
      this.users--;
      if (this.users > 0 || this.running === undefined) return;
      const server = await this.running;
      this.running = undefined;
      await server.stop();
    });
  }

  private serialise<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => undefined);
    return result;
  }
}

const embeddedServer = new SharedServer(startEmbeddedPostgresCluster);
const containerServer = new SharedServer(async () => {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const container = await new PostgreSqlContainer(POSTGRES_IMAGE).start();
  return {
    adminUrl: container.getConnectionUri(),
    stop: async () => {
      await container.stop();
    },
  };
});

async function createDatabaseOn(
  source: PostgresFixture["source"],
  server: SharedServer,
): Promise<PostgresFixture> {
  const adminUrl = await server.acquire();
  const database = `herald_t_${randomToken(10)}`;
  try {
    await withAdminClient(adminUrl, (client) => client.query(`CREATE DATABASE ${database}`));
  } catch (err) {
    await server.release();
    throw new FixtureStartError(`could not create database ${database} on ${redact(adminUrl)}`, "postgres", {
      cause: err,
    });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  let stopped: Promise<void> | undefined;
  return {
    url: url.toString(),
    database,
    source,
    stop: () => {
      stopped ??= dropDatabase(adminUrl, database).finally(() => server.release());
      return stopped;
    },
  };
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  await withAdminClient(adminUrl, async (client) => {
    const { rows } = await client.query<{ server_version_num: string }>("SHOW server_version_num");
    // WITH (FORCE) (Postgres 13+) ends sessions a test left open instead of failing the drop.
    const force = Number(rows[0]?.server_version_num ?? 0) >= 130000 ? " WITH (FORCE)" : "";
    await client.query(`DROP DATABASE IF EXISTS ${database}${force}`);
  });
}

async function withAdminClient<T>(adminUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

async function noop(): Promise<void> {}
