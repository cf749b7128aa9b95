import { formatDuration, parseDuration } from "@herald/runtime";
import { z } from "zod";
import { child, parseAt } from "./site.js";
import type { Site } from "./site.js";
import type { ConfigView } from "./config-view.js";

/** The longest any per-app timing may be: a week. */
export const MAX_APP_SETTING_MS = 7 * 86_400_000;

const RANGE = `from 0 to ${formatDuration(MAX_APP_SETTING_MS)}`;

/**
 * Milliseconds (an integer) or a duration ("30s", "5m", as parseDuration reads), 0 to 7 days; the
 * output is whole milliseconds. Files and the admin API take either; stored configs hold the integer.
 */
const settingMs = z
  .union([z.number(), z.string()], {
    error: `expected milliseconds or a duration like "30s", ${RANGE}`,
  })
  .transform((value, ctx) => {
    const parsed = typeof value === "number" ? { ms: value } : parseDuration(value);
    if ("error" in parsed) {
      ctx.addIssue({ code: "custom", message: parsed.error });
      return z.NEVER;
    }
    if (!Number.isInteger(parsed.ms)) {
      ctx.addIssue({ code: "custom", message: `expected a whole number of milliseconds, ${RANGE}` });
      return z.NEVER;
    }
    if (parsed.ms < 0 || parsed.ms > MAX_APP_SETTING_MS) {
      const got = parsed.ms < 0 ? `${parsed.ms}ms` : formatDuration(parsed.ms);
      ctx.addIssue({ code: "custom", message: `must be ${RANGE}, got ${got}` });
      return z.NEVER;
    }
    return parsed.ms;
  })
  .meta({ description: `Milliseconds, or a duration such as "30s", "5m", "2h"; ${RANGE}` });

// null (an empty YAML value) is the same as absent: the service's default applies.
const optionalMs = (description: string) => settingMs.nullish().describe(description);

/** An app's `presence` block: absent values take the presence service's environment defaults. */
export const presenceSettingsSchema = z
  .strictObject(
    {
      graceMs: optionalMs(
        "Hold a DISCONNECT or TIMEOUT of a user's last connection this long before user.offline (0: off); default PRESENCE_GRACE_MS",
      ),
      nodeLeaseMarginMs: optionalMs(
        "A leased chat-core node is reset once silent for its lease plus this long; default PRESENCE_NODE_LEASE_MARGIN_MS",
      ),
    },
    { error: "expected a mapping" },
  )
  .describe("Presence settings of the app; each absent one is the service's default");

/** An app's `chatroom` block: absent values take the chatroom service's environment defaults. */
export const chatroomSettingsSchema = z
  .strictObject(
    {
      kickAfterMs: optionalMs(
        "A member offline this long leaves its rooms with status 1 (0: off); default CHATROOM_KICK_AFTER_MS",
      ),
      abnormalDelayMs: optionalMs(
        "Added to kickAfterMs after an abnormal disconnect; default CHATROOM_ABNORMAL_DELAY_MS",
      ),
      idleDestroyMs: optionalMs(
        "An empty room is destroyed with status 3 after this long (0: off); default CHATROOM_IDLE_DESTROY_MS",
      ),
    },
    { error: "expected a mapping" },
  )
  .describe("Chatroom settings of the app; each absent one is the service's default");

/** Each block's schema, by its key in an app's config: the one list of the blocks and their fields. */
const APP_SETTINGS_SCHEMAS = { presence: presenceSettingsSchema, chatroom: chatroomSettingsSchema };

/** A block as stored: only the values the app gives, each whole milliseconds. */
type StoredBlock<S extends z.ZodObject> = { [K in keyof z.output<S>]?: number };
export type PresenceAppSettings = StoredBlock<typeof presenceSettingsSchema>;
export type ChatroomAppSettings = StoredBlock<typeof chatroomSettingsSchema>;

/** The app blocks whose values fall back to a service's environment defaults. */
export interface AppSettingsBlocks {
  presence: PresenceAppSettings;
  chatroom: ChatroomAppSettings;
}

/**
 * An app's presence and chatroom blocks read at `site` (the file or the stored config), those it has.
 * Only the values given are kept, in the schema's key order (equal blocks store equal bytes); a block
 * with none is left out, so an app that sets nothing stores no block and every service default applies.
 */
export function readAppSettings(
  site: Site,
  app: { [B in keyof AppSettingsBlocks]?: unknown },
): Partial<AppSettingsBlocks> {
  const blocks: Partial<AppSettingsBlocks> = {};
  for (const block of Object.keys(APP_SETTINGS_SCHEMAS) as (keyof AppSettingsBlocks)[]) {
    const raw = app[block];
    if (raw === null || raw === undefined) continue;
    const schema = APP_SETTINGS_SCHEMAS[block];
    const parsed = parseAt(child(site, block), schema, raw) as Record<string, number | null | undefined>;
    const given: Record<string, number> = {};
    for (const key of Object.keys(schema.shape)) {
      const value = parsed[key];
      if (value !== null && value !== undefined) given[key] = value;
    }
    if (Object.keys(given).length > 0) blocks[block] = given;
  }
  return blocks;
}

/**
 * Each app's `block` as CONFIG holds it now, over the service's environment `defaults`: read at each
 * fold and timer, so a change applies without a restart. One object per stored app version, so folds
 * of the same app share it until the app changes.
 */
export function appSettingsOf<B extends keyof AppSettingsBlocks>(
  view: { app(appId: string): { [K in B]?: AppSettingsBlocks[B] | undefined } | undefined },
  block: B,
  defaults: Required<AppSettingsBlocks[B]>,
): (appId: string) => Required<AppSettingsBlocks[B]> {
  const merged = new WeakMap<object, Required<AppSettingsBlocks[B]>>();
  return (appId) => {
    const app = view.app(appId);
    const given = app?.[block];
    if (app === undefined || given === undefined) return defaults;
    let settings = merged.get(app);
    if (settings === undefined) {
      settings = { ...defaults };
      for (const [key, value] of Object.entries(given) as [keyof typeof settings, unknown][]) {
        if (typeof value === "number") settings[key] = value as (typeof settings)[typeof key];
      }
      merged.set(app, settings);
    }
    return settings;
  };
}

/**
 * Calls `changed(appId)` when an app's `block` changes in CONFIG (not at other changes of the app,
 * its endpoints…): a service then moves what already waits on the old settings. Returns a function
 * that stops it.
 */
export function onAppSettingsChange<B extends keyof AppSettingsBlocks>(
  view: Pick<ConfigView, "apps" | "onChange">,
  block: B,
  changed: (appId: string) => void,
): () => void {
  const seen = new Map(view.apps().map((app) => [app.appId, JSON.stringify(app[block] ?? {})]));
  return view.onChange((appId, app) => {
    const now = JSON.stringify(app?.[block] ?? {});
    if (seen.get(appId) === now) return;
    seen.set(appId, now);
    changed(appId);
  });
}
