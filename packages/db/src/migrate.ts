import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import type { Logger } from "@herald/runtime";

/** The SQL migrations shipped with this package, beside src/ and dist/. */
export const migrationsDir = fileURLToPath(new URL("../migrations", import.meta.url));

/**
 * Applies every pending migration. Safe to run from several processes at once: node-pg-migrate
 * holds an advisory lock while it works.
 */
export async function migrate(opts: { url: string; log: Logger }): Promise<string[]> {
  const log = opts.log.child({ component: "migrate" });
  const applied = await runner({
    databaseUrl: opts.url,
    dir: migrationsDir,
    direction: "up",
    migrationsTable: "pgmigrations",
    count: Infinity,
    singleTransaction: true,
    logger: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.debug(msg),
      warn: (msg: string) => log.warn(msg),
      error: (msg: string) => log.error(msg),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) log.info({ migrations: names }, "migrations applied");
  return names;
}
