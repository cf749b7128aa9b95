import type {
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import type { Access } from "./auth.js";
import type { LogStore } from "./log-store.js";

/** The admin server with zod schemas as its types. */
export type AdminApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Logger,
  ZodTypeProvider
>;

/** What the routes need: the bus for CONFIG and KV state, the log store, and the egress policy. */
export interface AdminContext {
  bus: Bus;
  log: Logger;
  /** Undefined when LOGSTORE_ADDRESS is unset: log routes answer 503. */
  logStore: LogStore | undefined;
  /** DELIVERY_ALLOW_LOOPBACK: endpoint URLs may point at 127.0.0.1 (development, tests). */
  allowLoopback: boolean;
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** Who may call the route; every route must say (see auth.ts). */
    access?: Access;
  }
}
