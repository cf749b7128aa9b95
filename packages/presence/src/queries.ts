import { partitionOf, readCurrent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import type { UserPresence } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import type { KV } from "@nats-io/kv";
import { presenceKeys } from "./keys.js";
import { decodeUserState, toUserPresence } from "./state.js";
import type { UserState } from "./state.js";

export interface ListUsersQuery {
  status?: "online" | "offline";
  /** Only users with a connection on this platform (0 or absent: every platform). */
  platformId?: number;
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

const MAX_PAGE_SIZE = 1000;

async function readUserState(kv: KV, key: string): Promise<UserState | undefined> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) return undefined;
  return decodeUserState(entry.value);
}

/** The presence of one user, or undefined when no event about them was ever folded. */
export async function getUserPresence(
  bus: Bus,
  appId: string,
  userId: string,
): Promise<UserPresence | undefined> {
  const kv = await bus.kv(bus.names.buckets.presence);
  const partition = partitionOf(appId, userId, bus.layout.partitions);
  const state = await readUserState(kv, presenceKeys.user(partition, appId, userId));
  return state === undefined ? undefined : toUserPresence(state);
}

/**
 * Users of an app in the order of their encoded ids, filtered by status and platform. The page
 * token is the encoded id of the last user looked at; "" means there is no next page.
 */
export async function listUsers(
  bus: Bus,
  appId: string,
  q: ListUsersQuery,
): Promise<{ users: UserPresence[]; nextPageToken: string }> {
  if (!Number.isInteger(q.pageSize) || q.pageSize < 1 || q.pageSize > MAX_PAGE_SIZE) {
    throw new ValidationError(`pageSize must be 1-${MAX_PAGE_SIZE}, got ${q.pageSize}`, {
      field: "pageSize",
    });
  }
  const after = q.pageToken ?? "";
  if (!/^[A-Za-z0-9_=-]*$/.test(after)) {
    throw new ValidationError("pageToken is not one this server gave", { field: "pageToken" });
  }
  // Users of every partition with their states (one ordered consumer), in one order by encoded id.
  const found = new Map<string, Uint8Array>();
  for await (const e of readCurrent(bus, bus.names.buckets.presence, presenceKeys.users(appId))) {
    const token = e.key.slice(e.key.lastIndexOf(".") + 1);
    if (token > after) found.set(token, e.value);
  }
  const tokens = [...found.keys()].sort();
  const users: UserPresence[] = [];
  let last = "";
  for (const token of tokens) {
    if (users.length >= q.pageSize) return { users, nextPageToken: last };
    last = token;
    const state = decodeUserState(found.get(token) as Uint8Array);
    if (q.status !== undefined && state.status !== q.status) continue;
    const platform = q.platformId ?? 0;
    if (platform !== 0 && !Object.values(state.connections).some((c) => c.platformId === platform)) continue;
    users.push(toUserPresence(state));
  }
  return { users, nextPageToken: "" };
}
