import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Fastify, { LogController, type FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { messageLimitBytes, type Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import { registerAppRoutes } from "./apps.js";
import { installAuth, registerPublic, requireAccessDeclarations } from "./auth.js";
import type { AdminContext } from "./context.js";
import { registerDeliveryRoutes } from "./deliveries.js";
import { registerEndpointRoutes } from "./endpoints.js";
import { bodyTooLargeReply, frameworkErrorReply, installErrorHandlers } from "./errors.js";
import { registerHookRoutes } from "./hooks.js";
import type { LogStore } from "./log-store.js";
import { registerLogRoutes } from "./logs.js";
import { registerOpenApi } from "./openapi.js";
import { registerOverviewRoutes } from "./overview.js";
import { installPlainTextChecks } from "./plain-text.js";
import { registerQueryRoutes } from "./queries.js";
import { MAX_PARAM_LENGTH } from "./schemas.js";

/** uPlot's dist/ (the overview's charts), served at /admin/vendor/uplot/ from our own node_modules. */
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve("uplot"));

/** packages/admin/panel, from src or dist alike. */
export const ADMIN_PANEL_DIR = fileURLToPath(new URL("../panel/", import.meta.url));

export interface AdminServerOptions {
  host: string;
  port: number;
  bus: Bus;
  log: Logger;
  /** Undefined: every /v1 route answers 401 (the API is off). */
  adminToken: string | undefined;
  logStore: LogStore | undefined;
  allowLoopback: boolean;
  panelDir?: string;
}

export interface AdminServer {
  /** http://host:port as bound. */
  readonly url: string;
  /** Stops accepting, lets in-flight requests finish. */
  close(): Promise<void>;
}

/** The admin HTTP API (under /v1, described at /openapi.json) and the panel's static files (/admin/). */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const log = opts.log.child({ component: "admin" });
  // No body larger than one NATS message can become config (a larger one answers 413 naming the limit).
  const bodyLimit = messageLimitBytes(opts.bus);
  const app = Fastify({
    loggerInstance: log,
    // Fastify 5's own spellings of these (the top-level ones print deprecation warnings at start).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, _request, reply) => {
      const { status, body } = frameworkErrorReply(err);
      void (reply as FastifyReply).code(status).send(body);
    },
  }).withTypeProvider<ZodTypeProvider>();
  // A client that asks first (Expect: 100-continue, as curl does for bodies over 1 MB) hears 413
  // before it sends a body the API would refuse, instead of having its upload cut off mid-way.
  app.server.on("checkContinue", (req, res) => {
    if (Number(req.headers["content-length"]) > bodyLimit) {
      const { status, body } = bodyTooLargeReply(bodyLimit);
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
      return;
    }
    res.writeContinue();
    app.server.emit("request", req, res);
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // First: every route added after this must say who may call it.
  requireAccessDeclarations(app);
  installErrorHandlers(app, log);
  await registerOpenApi(app);

  const ctx: AdminContext = {
    bus: opts.bus,
    log,
    logStore: opts.logStore,
    allowLoopback: opts.allowLoopback,
  };
  installAuth(app, { bus: opts.bus, adminToken: opts.adminToken });
  installPlainTextChecks(app);
  registerAppRoutes(app, ctx);
  registerEndpointRoutes(app, ctx);
  registerHookRoutes(app, ctx);
  registerLogRoutes(app, ctx);
  registerDeliveryRoutes(app, ctx);
  registerQueryRoutes(app, ctx);
  registerOverviewRoutes(app, ctx);

  const panelDir = opts.panelDir ?? ADMIN_PANEL_DIR;
  if (existsSync(panelDir)) {
    await registerPublic(app, fastifyStatic, { root: panelDir, prefix: "/admin/", redirect: true });
    await registerPublic(app, fastifyStatic, {
      root: UPLOT_DIR,
      prefix: "/admin/vendor/uplot/",
      decorateReply: false,
      allowedPath: (file) => file === "/uPlot.esm.js" || file === "/uPlot.min.css",
    });
  } else {
    log.warn({ panelDir }, "admin panel directory missing; /admin/ will answer 404");
  }

  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : opts.port;
  return {
    url: `http://${opts.host}:${port}`,
    close: () => app.close(),
  };
}
