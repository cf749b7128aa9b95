import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Bus } from "@herald/bus";
import { appOfKey } from "./app-keys.js";
import { appNotFound, forbidden, unauthenticated } from "./errors.js";
import type { AdminApp } from "./context.js";

/** Who is calling: the operator (every app) or one app's key (that app only). */
export type Principal = { kind: "admin" } | { kind: "app"; appId: string };

const principals = new WeakMap<FastifyRequest, Principal>();

/** The caller of an authenticated route (set by the hook `installAuth` adds). */
export function principalOf(request: FastifyRequest): Principal {
  return principals.get(request) ?? { kind: "admin" };
}

/** The app ids the caller may see, or undefined for all. */
export function visibleApp(request: FastifyRequest): string | undefined {
  const principal = principalOf(request);
  return principal.kind === "app" ? principal.appId : undefined;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * Every /v1 route needs `Authorization: Bearer <token>`: the admin token, or an app key whose app is the
 * route's `appId` (another app answers 404, like a missing one; admin-only routes answer 403).
 */
export function installAuth(app: AdminApp, opts: { bus: Bus; adminToken: string | undefined }): void {
  const adminDigest = opts.adminToken === undefined ? undefined : digest(opts.adminToken);
  app.addHook("onRequest", async (request) => {
    if (!request.url.startsWith("/v1/")) return;
    if (adminDigest === undefined) throw unauthenticated("admin API disabled: set ADMIN_TOKEN");
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] === undefined) throw unauthenticated("missing Authorization: Bearer <token>");
    const token = match[1];
    if (timingSafeEqual(digest(token), adminDigest)) {
      principals.set(request, { kind: "admin" });
      return;
    }
    const appId = await appOfKey(opts.bus, token);
    if (appId === undefined) throw unauthenticated("invalid token");
    principals.set(request, { kind: "app", appId });
    const routeAppId = (request.params as { appId?: unknown } | undefined)?.appId;
    if (typeof routeAppId === "string" && routeAppId !== appId) throw appNotFound(routeAppId);
    if (request.routeOptions.config.adminOnly === true) {
      throw forbidden("this route needs the admin token; an app key cannot call it");
    }
  });
}
