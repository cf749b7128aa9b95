import { isWrongRevision, messageLimitBytes, type Bus } from "@herald/bus";
import { ConfigError, ConflictError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import { APP_ID_PATTERN, validateAppConfig } from "./app-config.js";
import { ConfigFileError } from "./errors.js";
import { ID_PATTERN_TEXT } from "./schemas.js";
import type { AppConfig } from "./app-config.js";

export type ConfigBucket = Awaited<ReturnType<Bus["kv"]>>;

export const APP_KEY_PREFIX = "apps.";

/** The CONFIG key of an app: `apps.<appId>`. */
export function appKey(appId: string): string {
  return `${APP_KEY_PREFIX}${appId}`;
}

export function configBucket(bus: Bus): Promise<ConfigBucket> {
  return bus.kv(bus.names.buckets.config);
}

// A KV write carries JetStream headers (the expected revision...) in the same NATS message as the value.
const KV_HEADER_ROOM_BYTES = 1024;

/** The largest app config (stored JSON, in bytes) that CONFIG can hold on this NATS server. */
export function configValueLimitBytes(bus: Bus): number {
  return messageLimitBytes(bus) - KV_HEADER_ROOM_BYTES;
}

/** An app's config is larger than one NATS message can carry; nothing was written. */
export class ConfigTooLargeError extends ConfigError {
  override name = "ConfigTooLargeError";
  constructor(
    readonly appId: string,
    readonly bytes: number,
    readonly limitBytes: number,
  ) {
    super(
      `app ${appId}: its config would be ${bytes} bytes; the bus carries at most ${limitBytes} bytes per app (NATS max_payload less headers)`,
      { field: "" },
    );
  }
}

function checkSize(bus: Bus, appId: string, json: string): void {
  const bytes = Buffer.byteLength(json);
  const limitBytes = configValueLimitBytes(bus);
  if (bytes > limitBytes) throw new ConfigTooLargeError(appId, bytes, limitBytes);
}

/** The JSON stored for an app; validation fills defaults and keeps one key order, so equal configs store equal bytes. */
function storedJson(app: AppConfig): string {
  return JSON.stringify(validateAppConfig(app, appKey(app.appId)));
}

/**
 * Writes the app under `apps.<appId>` after validating it (throws ConfigFileError). With
 * `previousRevision` (from readAppEntry) the write happens only if nobody wrote the app since, else it
 * throws ConflictError: a read-change-write of two operators at once cannot lose one of the changes.
 */
export async function putApp(
  bus: Bus,
  app: AppConfig,
  opts: { previousRevision?: number } = {},
): Promise<number> {
  const json = storedJson(app);
  checkSize(bus, app.appId, json);
  const kv = await configBucket(bus);
  const key = appKey(app.appId);
  if (opts.previousRevision === undefined) return kv.put(key, json);
  try {
    return await kv.update(key, json, opts.previousRevision);
  } catch (err) {
    if (!isWrongRevision(err)) throw err;
    throw new ConflictError(`app ${app.appId} changed since it was read; read it again`, { cause: err });
  }
}

/** The app as CONFIG holds it now, read directly (a watch may lag by a moment); undefined if absent. */
export async function readApp(bus: Bus, appId: string): Promise<AppConfig | undefined> {
  return (await readAppEntry(bus, appId))?.app;
}

/** The app and the revision it was stored at, for a compare-and-set putApp. */
export async function readAppEntry(
  bus: Bus,
  appId: string,
): Promise<{ app: AppConfig; revision: number } | undefined> {
  validateAppId(appId);
  const kv = await configBucket(bus);
  const entry = await kv.get(appKey(appId));
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return { app: validateAppConfig(entry.json(), appKey(appId)), revision: entry.revision };
}

export async function deleteApp(bus: Bus, appId: string): Promise<void> {
  validateAppId(appId);
  const kv = await configBucket(bus);
  await kv.delete(appKey(appId));
}

function validateAppId(appId: string): void {
  if (!APP_ID_PATTERN.test(appId)) {
    throw new ConfigFileError(`app id must be ${ID_PATTERN_TEXT}`, { path: "appId", file: "" });
  }
}

interface StoredApp {
  json: string;
  revision: number;
  source: unknown;
}

/** Key prefix of the file's own version of each app it declares, kept whoever owns the app in force. */
export const FILE_APP_KEY_PREFIX = "fileapps.";

function fileAppKey(appId: string): string {
  return `${FILE_APP_KEY_PREFIX}${appId}`;
}

// An app's content, whoever owns it: equal for the file's version and an API copy with no change.
// A stored value that no longer validates has no comparable content.
function contentJson(json: string): string | undefined {
  try {
    return storedJson({ ...(JSON.parse(json) as AppConfig), source: "file" });
  } catch {
    return undefined;
  }
}

export interface ApplyResult {
  put: string[];
  deleted: string[];
  unchanged: string[];
  /** Apps an admin edit made the API's: the file's version (different) is not applied to them. */
  keptByApi: string[];
}

/**
 * Makes CONFIG match the file: puts each app (source "file") unless its stored JSON is identical, and
 * deletes stored "file" apps the file no longer names. An app of source "api" (created or edited through
 * the admin API) is left alone, even when the file declares it: the file's version is recorded under
 * `fileapps.<appId>` so the API can show that it differs and hand the app back (`returnAppToFile`).
 */
export async function applyConfigFile(bus: Bus, apps: AppConfig[], log: Logger): Promise<ApplyResult> {
  const kv = await configBucket(bus);
  const stored = await readStoredApps(kv, APP_KEY_PREFIX);
  const declared = await readStoredApps(kv, FILE_APP_KEY_PREFIX);
  const result: ApplyResult = { put: [], deleted: [], unchanged: [], keptByApi: [] };
  const named = new Set<string>();
  // Every app is checked before any is written: a file the bus cannot carry changes nothing.
  const files = apps.map((app) => ({ app, json: storedJson({ ...app, source: "file" }) }));
  for (const { app, json } of files) checkSize(bus, app.appId, json);
  for (const { app, json } of files) {
    named.add(app.appId);
    if (declared.get(app.appId)?.json !== json) await kv.put(fileAppKey(app.appId), json);
    const current = stored.get(app.appId);
    if (current?.json === json) {
      result.unchanged.push(app.appId);
    } else if (current?.source === "api") {
      if (contentJson(current.json) === json) result.unchanged.push(app.appId);
      else result.keptByApi.push(app.appId);
    } else {
      await kv.put(appKey(app.appId), json);
      result.put.push(app.appId);
    }
  }
  for (const [appId, entry] of stored) {
    if (named.has(appId) || entry.source !== "file") continue;
    try {
      // Only if nobody wrote it since we read it: an app re-created meanwhile must survive.
      await kv.delete(appKey(appId), { previousSeq: entry.revision });
      result.deleted.push(appId);
    } catch (err) {
      log.warn({ err, appId }, "app changed while applying the config file; not deleted");
    }
  }
  for (const appId of declared.keys()) {
    if (!named.has(appId)) await kv.delete(fileAppKey(appId));
  }
  return result;
}

/** Whether the config file declares the app, and if so whether its version differs from the one in force. */
export async function fileStatusOfApp(bus: Bus, app: AppConfig): Promise<{ differs: boolean } | undefined> {
  validateAppId(app.appId);
  const kv = await configBucket(bus);
  const entry = await kv.get(fileAppKey(app.appId));
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return { differs: contentJson(entry.string()) !== storedJson({ ...app, source: "file" }) };
}

/**
 * Hands an app back to the config file: the file's version replaces the one in force and its later
 * changes apply again. Undefined when the file does not declare the app.
 */
export async function returnAppToFile(bus: Bus, appId: string): Promise<AppConfig | undefined> {
  validateAppId(appId);
  const kv = await configBucket(bus);
  const entry = await kv.get(fileAppKey(appId));
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  const app = validateAppConfig({ ...entry.json<object>(), source: "file" }, appKey(appId));
  await kv.put(appKey(appId), storedJson(app));
  return app;
}

async function readStoredApps(kv: ConfigBucket, prefix: string): Promise<Map<string, StoredApp>> {
  const keys: string[] = [];
  for await (const key of await kv.keys(`${prefix}>`)) keys.push(key);
  const stored = new Map<string, StoredApp>();
  for (const key of keys) {
    const entry = await kv.get(key);
    if (entry === null || entry.operation !== "PUT") continue;
    const json = entry.string();
    stored.set(key.slice(prefix.length), { json, revision: entry.revision, source: sourceOf(json) });
  }
  return stored;
}

function sourceOf(json: string): unknown {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "object" && value !== null && "source" in value ? value.source : undefined;
  } catch {
    return undefined;
  }
}
