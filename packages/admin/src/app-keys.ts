import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Bus } from "@herald/bus";
import { notFound } from "./errors.js";

/**
 * Per-app API keys: `hak_<appId>_<random>`, shown once at creation and kept only as a sha256 hash under
 * `appkeys.<appId>.<keyId>` in CONFIG, so a leaked KV snapshot does not leak keys.
 */
export const APP_KEY_PREFIX = "hak_";
const KEYS_PREFIX = "appkeys.";

interface StoredKey {
  hash: string;
  createdAt: string;
}

async function bucket(bus: Bus) {
  return bus.kv(bus.names.buckets.config);
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Makes a key for the app and stores its hash; the returned key is the only copy. */
export async function createAppKey(bus: Bus, appId: string): Promise<{ id: string; key: string }> {
  const id = randomBytes(6).toString("hex");
  // Hex, so the last "_" of the key always ends the app id (which may itself hold "_").
  const key = `${APP_KEY_PREFIX}${appId}_${randomBytes(24).toString("hex")}`;
  const stored: StoredKey = { hash: sha256Hex(key), createdAt: new Date().toISOString() };
  const kv = await bucket(bus);
  await kv.put(`${KEYS_PREFIX}${appId}.${id}`, JSON.stringify(stored));
  return { id, key };
}

export async function deleteAppKey(bus: Bus, appId: string, keyId: string): Promise<void> {
  const kv = await bucket(bus);
  const entry = await kv.get(`${KEYS_PREFIX}${appId}.${keyId}`);
  if (entry === null || entry.operation !== "PUT") {
    throw notFound("keyId", `key ${JSON.stringify(keyId)} of app ${JSON.stringify(appId)} not found`);
  }
  await kv.delete(`${KEYS_PREFIX}${appId}.${keyId}`);
}

/** An app's keys as the API lists them: ids and creation times, never the keys or their hashes. */
export async function listAppKeys(
  bus: Bus,
  appId: string,
): Promise<Array<{ id: string; createdAt: string }>> {
  const kv = await bucket(bus);
  const keys = [];
  for (const name of await appKeyNames(bus, appId)) {
    const entry = await kv.get(name);
    if (entry === null || entry.operation !== "PUT") continue;
    const createdAt = readCreatedAt(entry.string());
    keys.push({ id: name.slice(`${KEYS_PREFIX}${appId}.`.length), createdAt });
  }
  return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** Forgets every key of an app (the app is being deleted: a re-created app must not inherit them). */
export async function deleteAppKeys(bus: Bus, appId: string): Promise<void> {
  const kv = await bucket(bus);
  for (const key of await appKeyNames(bus, appId)) await kv.delete(key);
}

async function appKeyNames(bus: Bus, appId: string): Promise<string[]> {
  const kv = await bucket(bus);
  const names: string[] = [];
  for await (const key of await kv.keys(`${KEYS_PREFIX}${appId}.*`)) names.push(key);
  return names;
}

/** The app id a presented key belongs to, or undefined when it is not a live key. */
export async function appOfKey(bus: Bus, key: string): Promise<string | undefined> {
  if (!key.startsWith(APP_KEY_PREFIX)) return undefined;
  const cut = key.lastIndexOf("_");
  const appId = key.slice(APP_KEY_PREFIX.length, cut);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(appId)) return undefined;
  const presented = Buffer.from(sha256Hex(key), "hex");
  const kv = await bucket(bus);
  for (const name of await appKeyNames(bus, appId)) {
    const entry = await kv.get(name);
    if (entry === null || entry.operation !== "PUT") continue;
    const stored = readStoredHash(entry.string());
    if (stored !== undefined && timingSafeEqual(Buffer.from(stored.hash, "hex"), presented)) return appId;
  }
  return undefined;
}

function readCreatedAt(json: string): string {
  try {
    const value = JSON.parse(json) as Partial<StoredKey>;
    return typeof value.createdAt === "string" ? value.createdAt : "";
  } catch {
    return "";
  }
}

// A value that is not a stored key (written by hand, say) matches nothing rather than failing every request.
function readStoredHash(json: string): { hash: string } | undefined {
  try {
    const value = JSON.parse(json) as Partial<StoredKey>;
    return typeof value.hash === "string" && /^[0-9a-f]{64}$/.test(value.hash)
      ? { hash: value.hash }
      : undefined;
  } catch {
    return undefined;
  }
}
