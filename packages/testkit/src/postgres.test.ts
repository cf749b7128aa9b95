import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedPostgresOsUser } from "./embedded-postgres-cluster.js";
import { startPostgres, type PostgresFixture } from "./postgres.js";

const sharedServer = Boolean(process.env["DATABASE_URL"]) && !process.env["HERALD_TEST_POSTGRES"];

async function query<R extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe("startPostgres", () => {
  let first: PostgresFixture;
  let second: PostgresFixture;
  beforeAll(async () => {
    [first, second] = await Promise.all([startPostgres(), startPostgres()]);
  });
  afterAll(async () => {
    await Promise.all([first.stop(), second.stop()]);
  });

  it("gives a working database named in its url", async () => {
    expect(sharedServer ? ["env"] : ["container", "embedded"]).toContain(first.source);
    expect(first.database).toMatch(/^herald_t_[a-z0-9]+$/);
    await query(first.url, "CREATE TABLE delivery (id serial PRIMARY KEY, body text NOT NULL)");
    await query(first.url, "INSERT INTO delivery (body) VALUES ($1), ($2)", ["héllo", "world"]);
    const rows = await query<{ body: string }>(first.url, "SELECT body FROM delivery ORDER BY id");
    expect(rows.map((row) => row.body)).toEqual(["héllo", "world"]);
    const [current] = await query<{ name: string }>(first.url, "SELECT current_database() AS name");
    expect(current?.name).toBe(first.database);
  });

  it("gives each call a database of its own", async () => {
    expect(second.database).not.toBe(first.database);
    await query(second.url, "CREATE TABLE only_here (n int)");
    await expect(query(first.url, "SELECT * FROM only_here")).rejects.toThrow(/does not exist/);
  });

  it("drops the database on stop, even with a session left open", async () => {
    const third = await startPostgres();
    const leftOpen = new pg.Client({ connectionString: third.url });
    leftOpen.on("error", () => undefined);
    await leftOpen.connect();
    await third.stop();
    const rows = await query(first.url, "SELECT 1 FROM pg_database WHERE datname = $1", [third.database]);
    expect(rows).toHaveLength(0);
    await leftOpen.end().catch(() => undefined);
  });
});

describe.runIf(process.getuid?.() === 0)("embedded Postgres as root", () => {
  it("names the missing OS user and how to create it", async () => {
    await expect(embeddedPostgresOsUser("herald-no-such-user")).rejects.toThrow(
      /no OS user "herald-no-such-user".*useradd/,
    );
  });

  it("runs as the postgres user when it exists", async () => {
    const owner = await embeddedPostgresOsUser();
    expect(owner?.uid).toBeGreaterThan(0);
  });
});
