import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type { Bus } from "@herald/bus";
import { bearerToken, tokenDigest, tokenMatches } from "@herald/runtime";
import { appOfKey } from "./app-keys.js";
import { appNotFound, forbidden, unauthenticated } from "./errors.js";
import type { AdminApp } from "./context.js";

/**
 * Who may call a route, declared by every route in its `config.access`:
 * - `public`: anyone (the panel's static files, the OpenAPI document);
 * - `admin`: the admin token only (an app key gets 403);
 * - `app`: the admin token, or a key of the app the route's `:appId` names (another app's key gets 404);
 * - `authenticated`: the admin token or any app key; the handler shows a key only its own app.
 */
export const ACCESS_LEVELS = ["public", "admin", "app", "authenticated"] as const;
export type Access = (typeof ACCESS_LEVELS)[number];

/** Who is calling: the operator (every app) or one app's key (that app only). */
export type Principal = { kind: "admin" } | { kind: "app"; appId: string };

/** A route was registered, or reached, without a valid access declaration: a bug, refused at start-up. */
export class RouteAccessError extends Error {
  override readonly name = "RouteAccessError";
}

const principals = new WeakMap<FastifyRequest, Principal>();
const publicScopes = new WeakSet<object>();

/**
 * The caller of a route that is not public. Throws (a 500, logged) when nobody was recorded: a handler
 * must never guess who is calling.
 */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (principal === undefined) {
    throw new RouteAccessError(`no caller recorded for ${request.method} ${request.routeOptions.url ?? "?"}`);
  }
  return principal;
}

/** The app ids the caller may see, or undefined for all. */
export function visibleApp(request: FastifyRequest): string | undefined {
  const principal = principalOf(request);
  return principal.kind === "app" ? principal.appId : undefined;
}

function isAccess(value: unknown): value is Access {
  return (ACCESS_LEVELS as readonly unknown[]).includes(value);
}

/**
 * Refuses, at registration, every route that does not declare a valid `config.access` (routes added
 * inside `registerPublic` are public), so a route that forgot to say who may call it cannot start.
 * Must run before any route is added.
 */
export function requireAccessDeclarations(app: AdminApp): void {
  app.addHook("onRoute", function (route) {
    if (route.config?.access === undefined && publicScopes.has(this)) {
      route.config = { ...route.config, access: "public" };
    }
    const access = route.config?.access;
    const name = `${String(route.method)} ${route.url}`;
    if (!isAccess(access)) {
      throw new RouteAccessError(
        `route ${name} declares no config.access (one of ${ACCESS_LEVELS.join(", ")})`,
      );
    }
    const scoped = /(^|\/):appId(\/|$)/.test(route.url);
    if (access === "app" && !scoped) throw new RouteAccessError(`route ${name} is "app" but has no :appId`);
    if (access === "authenticated" && scoped) {
      throw new RouteAccessError(`route ${name} names an app: declare it "app" or "admin"`);
    }
  });
}

/** Registers a plugin (static files) whose every route is public. */
export async function registerPublic<Options extends object>(
  app: AdminApp,
  plugin: FastifyPluginAsync<Options>,
  opts: Options,
): Promise<void> {
  await app.register(async (scope) => {
    publicScopes.add(scope);
    await scope.register(plugin, opts);
  });
}

/**
 * Decides every request on the route the router matched (its declared access and decoded `:appId`),
 * never on the URL's spelling: `/%761/apps` reaches the same route, and the same check, as `/v1/apps`.
 */
export function installAuth(app: AdminApp, opts: { bus: Bus; adminToken: string | undefined }): void {
  const adminDigest = opts.adminToken === undefined ? undefined : tokenDigest(opts.adminToken);
  app.addHook("onRequest", async (request) => {
    // No route matched: the not-found handler answers 404 and touches nothing.
    if (request.is404) return;
    const access = request.routeOptions.config.access;
    if (access === "public") return;
    if (!isAccess(access))
      throw new RouteAccessError(`route ${request.routeOptions.url ?? "?"} has no access`);
    if (adminDigest === undefined) throw unauthenticated("admin API disabled: set ADMIN_TOKEN");
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw unauthenticated("missing Authorization: Bearer <token>");
    if (tokenMatches(token, adminDigest)) {
      principals.set(request, { kind: "admin" });
      return;
    }
    const appId = await appOfKey(opts.bus, token);
    if (appId === undefined) throw unauthenticated("invalid token");
    // Another app's things answer as missing ones, so a key cannot probe which apps exist.
    const routeAppId = (request.params as { appId?: unknown } | undefined)?.appId;
    if ((access === "app" || routeAppId !== undefined) && routeAppId !== appId) {
      throw appNotFound(String(routeAppId));
    }
    if (access === "admin") throw forbidden("this route needs the admin token; an app key cannot call it");
    principals.set(request, { kind: "app", appId });
  });
}
