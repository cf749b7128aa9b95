export { createPool, pingDatabase, type PoolOptions } from "./pool.js";
export { migrate, migrationsDir } from "./migrate.js";
