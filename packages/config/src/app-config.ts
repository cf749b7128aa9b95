import { BEFORE_DIALECTS, hookProviderSchema } from "@herald/dialects";
import type { DialectAppBlocks, HookProvider } from "@herald/dialects";
import { z } from "zod";
import { readStoredEndpoints } from "./endpoint-config.js";
import type { EndpointConfig } from "./endpoint-config.js";
import { defaultHookConfig, readHookConfig } from "./hook-config.js";
import type { HookConfig } from "./hook-config.js";
import { readAppSettings } from "./app-settings.js";
import type { ChatroomAppSettings, PresenceAppSettings } from "./app-settings.js";
import { httpUrlSchema } from "./openim-webhooks.js";
import { OPENIM_HOOK_KEYS, openImHookKey } from "./openim-hooks.js";
import { appIdSchema, commandNamesSchema, urlStyleSchema } from "./schemas.js";
import { child, expectRecord, fail, parseAt, rootSite } from "./site.js";
import type { Site } from "./site.js";

export { APP_ID_PATTERN, appIdSchema, commandNamesSchema, urlStyleSchema } from "./schemas.js";

export interface BreakerConfig {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold: number;
  /** How long it stays open before a probe (default 5000). */
  openMs: number;
}

/**
 * One app: its OpenIM block (read from webhooks.yml here), its endpoints, and the before-hook blocks of
 * other dialects (`tencent`, …: DIALECT_REGISTRY's `before.appKey`), each its dialect's appSchema output.
 */
export type AppConfig = CommonAppConfig & Omit<DialectAppBlocks, keyof CommonAppConfig>;

export interface CommonAppConfig {
  appId: string;
  /** Absent for an app that only has delivery endpoints: then every before-hook is disabled. */
  openim?: {
    url: string;
    /** path: {url}/{command}?contenttype=json ; query: {url}?command={command}&contenttype=json */
    urlStyle: "path" | "query";
    commandNames: "seed" | "current";
    hooks: Record<string, HookConfig>;
    /** The gRPC hook provider that answers the synchronous hooks instead of url; after-hooks use url. */
    provider?: HookProvider;
  };
  /** Where the deliverer sends the app's events; ids unique within the app, ordered by id. */
  endpoints: EndpointConfig[];
  /** Lets the app's endpoints reach private, loopback and link-local addresses (off: SSRF guard). */
  allowPrivateDestinations: boolean;
  breaker: BreakerConfig;
  /** The app's presence timings (grace period, node lease margin); absent ones are the service's defaults. */
  presence?: PresenceAppSettings;
  /** The app's chatroom timings (auto-kick, abnormal delay, idle destroy); absent ones are the service's defaults. */
  chatroom?: ChatroomAppSettings;
  /** "file" apps are owned by the declarative file; "api" apps by the admin API. */
  source: "file" | "api";
}

export const DEFAULT_BREAKER: BreakerConfig = { failureThreshold: 5, openMs: 5_000 };

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
  openim: z
    .strictObject({
      url: httpUrlSchema,
      urlStyle: urlStyleSchema.default("path"),
      commandNames: commandNamesSchema.default("seed"),
      hooks: z.record(z.string(), z.unknown()).default({}),
      provider: hookProviderSchema.optional(),
    })
    .optional(),
  // The other before-dialects' blocks, each checked and defaulted by its own schema.
  ...Object.fromEntries(
    BEFORE_DIALECTS.flatMap((d) => (d.appSchema === undefined ? [] : [[d.appKey, d.appSchema.optional()]])),
  ),
  endpoints: z.unknown().optional(),
  allowPrivateDestinations: z.boolean({ error: "expected true or false" }).default(false),
  breaker: z.unknown().optional(),
  presence: z.unknown().optional(),
  chatroom: z.unknown().optional(),
  source: z.enum(["file", "api"], { error: 'expected "file" or "api"' }).default("api"),
});

/**
 * Validates an app config from outside a file (KV, the admin API) and fills its defaults. Stricter
 * than the file: an unknown key or hook is refused, since there is no one to warn.
 */
export function validateAppConfig(input: unknown, path?: string): AppConfig {
  const site = rootSite({ file: "", path: path === undefined || path === "" ? [] : path.split(".") });
  const app = parseAt(site, storedAppSchema, input) as z.output<typeof storedAppSchema> &
    Record<string, unknown>;
  const openim =
    app.openim === undefined
      ? undefined
      : { ...app.openim, hooks: readStoredHooks(child(site, "openim", "hooks"), app.openim.hooks) };
  // Built key by key in one order (absent openim left out), so equal configs store equal bytes.
  return {
    appId: app.appId,
    ...(openim === undefined ? {} : { openim }),
    ...beforeBlocks(app),
    endpoints: readStoredEndpoints(child(site, "endpoints"), app.endpoints, openim),
    allowPrivateDestinations: app.allowPrivateDestinations,
    breaker: readBreaker(child(site, "breaker"), app.breaker),
    ...readAppSettings(site, app),
    source: app.source,
  };
}

/** The before-dialects' blocks an app has (those with an appSchema), in the registry's order. */
export function beforeBlocks(app: Record<string, unknown>): Record<string, unknown> {
  const blocks: Record<string, unknown> = {};
  for (const d of BEFORE_DIALECTS) {
    if (d.appSchema !== undefined && app[d.appKey] !== undefined) blocks[d.appKey] = app[d.appKey];
  }
  return blocks;
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

/** The app's settings for `hookKey`, or OpenIM's defaults for that key (enable false, also without openim). */
export function hookConfig(app: AppConfig, hookKey: string): HookConfig {
  return app.openim?.hooks[hookKey] ?? defaultHookConfig(hookKey);
}
