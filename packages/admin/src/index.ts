export { ADMIN_PANEL_DIR, startAdminServer } from "./server.js";
export type { AdminServer, AdminServerOptions } from "./server.js";
export { LOG_STORE_REFUSED_GATEWAY, logStoreQueries } from "./log-store.js";
export type { LogStore } from "./log-store.js";
