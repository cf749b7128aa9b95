import { z } from "zod";
import { defaultHookConfig, readHookConfig } from "./hook-config.js";
import type { HookConfig } from "./hook-config.js";
import { httpUrlSchema } from "./openim-webhooks.js";
import { OPENIM_HOOK_KEYS, openImHookKey } from "./openim-hooks.js";
import { child, expectRecord, fail, parseAt, rootSite } from "./site.js";
import type { Site } from "./site.js";

export interface BreakerConfig {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold: number;
  /** How long it stays open before a probe (default 5000). */
  openMs: number;
}

export interface AppConfig {
  appId: string;
  openim: {
    url: string;
    /** path: {url}/{command}?contenttype=json ; query: {url}?command={command}&contenttype=json */
    urlStyle: "path" | "query";
    commandNames: "seed" | "current";
    hooks: Record<string, HookConfig>;
  };
  breaker: BreakerConfig;
  /** "file" apps are owned by the declarative file; "api" apps by the admin API. */
  source: "file" | "api";
}

export const APP_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const DEFAULT_BREAKER: BreakerConfig = { failureThreshold: 5, openMs: 5_000 };

export const appIdSchema = z
  .string({ error: "expected an app id" })
  .regex(APP_ID_PATTERN, { error: "expected 1 to 64 of A-Z a-z 0-9 _ -" });
export const urlStyleSchema = z.enum(["path", "query"], { error: 'expected "path" or "query"' });
export const commandNamesSchema = z.enum(["seed", "current"], { error: 'expected "seed" or "current"' });

const breakerSchema = z.strictObject(
  {
    failureThreshold: z.int({ error: "expected an integer" }).min(1).max(1_000).default(5),
    openMs: z.int({ error: "expected an integer of milliseconds" }).min(1).max(3_600_000).default(5_000),
  },
  { error: "expected a mapping" },
);

/** The breaker mapping at `site` (absent or null: the defaults). */
export function readBreaker(site: Site, raw: unknown): BreakerConfig {
  if (raw === null || raw === undefined) return { ...DEFAULT_BREAKER };
  return parseAt(site, breakerSchema, raw);
}

const storedAppSchema = z.strictObject({
  appId: appIdSchema,
  openim: z.strictObject({
    url: httpUrlSchema,
    urlStyle: urlStyleSchema.default("path"),
    commandNames: commandNamesSchema.default("seed"),
    hooks: z.record(z.string(), z.unknown()).default({}),
  }),
  breaker: z.unknown().optional(),
  source: z.enum(["file", "api"], { error: 'expected "file" or "api"' }).default("api"),
});

/**
 * Validates an app config from outside a file (KV, the admin API) and fills its defaults. Stricter
 * than the file: an unknown key or hook is refused, since there is no one to warn.
 */
export function validateAppConfig(input: unknown, path?: string): AppConfig {
  const site = rootSite({ file: "", path: path === undefined || path === "" ? [] : path.split(".") });
  const app = parseAt(site, storedAppSchema, input);
  const hooksSite = child(site, "openim", "hooks");
  return {
    appId: app.appId,
    openim: { ...app.openim, hooks: readStoredHooks(hooksSite, app.openim.hooks) },
    breaker: readBreaker(child(site, "breaker"), app.breaker),
    source: app.source,
  };
}

function readStoredHooks(site: Site, raw: Record<string, unknown>): Record<string, HookConfig> {
  expectRecord(site, raw);
  for (const key of Object.keys(raw)) {
    if (openImHookKey(key) === undefined) fail(child(site, key), "unknown hook");
  }
  const hooks: Record<string, HookConfig> = {};
  for (const { key } of OPENIM_HOOK_KEYS) {
    if (key in raw) hooks[key] = readHookConfig(child(site, key), key, raw[key], true);
  }
  return hooks;
}

/** The app's settings for `hookKey`, or OpenIM's defaults for that key (enable false). */
export function hookConfig(app: AppConfig, hookKey: string): HookConfig {
  return app.openim.hooks[hookKey] ?? defaultHookConfig(hookKey);
}
