import type { Bus } from "@herald/bus";
import type { UserPresence } from "@herald/proto";
import { ValidationError } from "@herald/runtime";
import { presenceKeys } from "./keys.js";
import { toUserPresence } from "./state.js";
import { readUserState } from "./store.js";

export interface ListUsersQuery {
  status?: "online" | "offline";
  /** Only users with a connection on this platform (0 or absent: every platform). */
  platformId?: number;
  pageSize: number;
  /** The nextPageToken of the previous page. */
  pageToken?: string;
}

const MAX_PAGE_SIZE = 1000;

/** The presence of one user, or undefined when no event about them was ever folded. */
export async function getUserPresence(
  bus: Bus,
  appId: string,
  userId: string,
): Promise<UserPresence | undefined> {
  const kv = await bus.kv(bus.names.buckets.presence);
  const { state } = await readUserState(kv, presenceKeys.user(appId, userId));
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
  const kv = await bus.kv(bus.names.buckets.presence);
  const tokens: string[] = [];
  for await (const key of await kv.keys(presenceKeys.users(appId))) {
    const token = key.slice(key.lastIndexOf(".") + 1);
    if (token > after) tokens.push(token);
  }
  tokens.sort();
  const users: UserPresence[] = [];
  let last = "";
  for (const token of tokens) {
    if (users.length >= q.pageSize) return { users, nextPageToken: last };
    last = token;
    const { state } = await readUserState(kv, `${presenceKeys.users(appId).slice(0, -1)}${token}`);
    if (state === undefined) continue;
    if (q.status !== undefined && state.status !== q.status) continue;
    const platform = q.platformId ?? 0;
    if (platform !== 0 && !Object.values(state.connections).some((c) => c.platformId === platform)) continue;
    users.push(toUserPresence(state));
  }
  return { users, nextPageToken: "" };
}
