import { afterAll, beforeAll, expect, it } from "vitest";
import pino from "pino";
import { startPostgres, type PostgresFixture } from "@herald/testkit";
import { createPool, migrate, pingDatabase } from "./index.js";

const log = pino({ level: "silent" });
let pg: PostgresFixture;

beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg?.stop());

it("applies the migrations once, and a second run finds nothing to do", async () => {
  expect(await migrate({ url: pg.url, log })).toContain("1763769600000_init");
  expect(await migrate({ url: pg.url, log })).toEqual([]);
  const pool = createPool({ url: pg.url, log });
  try {
    const { rows } = await pool.query("SELECT nspname FROM pg_namespace WHERE nspname = 'herald'");
    expect(rows).toHaveLength(1);
    expect(await pingDatabase(pool)).toBe(true);
  } finally {
    await pool.end();
  }
});

it("says a database is down when it does not answer", async () => {
  const pool = createPool({ url: "postgres://nobody@127.0.0.1:1/none", log });
  try {
    expect(await pingDatabase(pool)).toBe(false);
  } finally {
    await pool.end();
  }
});
