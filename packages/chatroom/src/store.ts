import type { KV } from "@nats-io/kv";
import { RetryableError } from "@herald/runtime";
import { roomKeys } from "./keys.js";
import { decodeRoomMeta, encodeRoomMeta } from "./state.js";
import type { RoomMeta, RoomOutbox } from "./state.js";

/** Compare-and-set on a room kept losing to concurrent writers. */
export class RoomConflictError extends RetryableError {
  override readonly name = "RoomConflictError";
  constructor(
    readonly key: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`room state ${key} changed under us ${attempts} times`, options);
  }
}

/** A room as this process knows it: its meta with the revision, and its members. */
export interface LoadedRoom {
  meta: RoomMeta | undefined;
  /** 0 when the key does not exist. */
  revision: number;
  members: Set<string>;
  /** True when read from KV just now (not from this process's cache). */
  fresh: boolean;
}

// Key writes in flight at once for one change (a 1000-user join is 2000 writes).
const WRITE_PARALLELISM = 256;

export async function readRoomMeta(
  kv: KV,
  key: string,
): Promise<{ meta: RoomMeta | undefined; revision: number }> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) {
    return { meta: undefined, revision: entry?.revision ?? 0 };
  }
  return { meta: decodeRoomMeta(entry.value), revision: entry.revision };
}

/** Every live key (and value) matching a filter; one ordered consumer, no request per key. */
export async function readKeys(kv: KV, filter: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const e of await kv.history({ key: filter })) {
    if (e.operation === "PUT") out.set(e.key, e.string());
    else out.delete(e.key);
  }
  return out;
}

/** Runs `work` over `items`, WRITE_PARALLELISM at a time. */
export async function inBatches<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += WRITE_PARALLELISM) {
    await Promise.all(items.slice(i, i + WRITE_PARALLELISM).map(work));
  }
}

/**
 * Rooms with their members, cached with the meta's revision: a change needs no read while nobody
 * else wrote the room. Every membership change goes through a CAS of the meta first, so a stale
 * cache costs one failed CAS, after which the room is loaded again.
 */
export class RoomStore {
  readonly #rooms = new Map<string, LoadedRoom>();

  constructor(
    readonly kv: KV,
    private readonly capacity = 10_000,
  ) {}

  /** The room from the cache, or read with its unfinished outbox redone and its members listed. */
  async load(appId: string, roomId: string): Promise<LoadedRoom> {
    const key = roomKeys.room(appId, roomId);
    const cached = this.#rooms.get(key);
    if (cached !== undefined) return cached;
    let { meta, revision } = await readRoomMeta(this.kv, key);
    // The writer of the last change may have died before finishing it; redoing it is idempotent.
    // A newer change written meanwhile may have undone what the redo wrote: then load that one.
    while (meta !== undefined && hasOutboxWork(meta.outbox)) {
      await this.applyOutbox(meta);
      const again = await readRoomMeta(this.kv, key);
      if (again.revision === revision) break;
      ({ meta, revision } = again);
    }
    const members = new Set<string>();
    if (meta?.exists === true && meta.memberCount > 0) {
      for await (const k of await this.kv.keys(roomKeys.members(appId, roomId)))
        members.add(roomKeys.lastId(k));
    }
    return { meta, revision, members, fresh: true };
  }

  /** Writes the meta with compare-and-set; false when another writer got there first. */
  async write(loaded: LoadedRoom, next: RoomMeta): Promise<LoadedRoom | undefined> {
    const key = roomKeys.room(next.appId, next.roomId);
    try {
      const data = encodeRoomMeta(next);
      const revision =
        loaded.revision === 0
          ? await this.kv.create(key, data)
          : await this.kv.update(key, data, loaded.revision);
      return { meta: next, revision, members: nextMembers(loaded.members, next.outbox), fresh: false };
    } catch (err) {
      this.forget(key);
      if (isWrongRevision(err)) return undefined;
      throw err;
    }
  }

  /** Remembers a room whose outbox is done. */
  remember(loaded: LoadedRoom): void {
    if (loaded.meta === undefined) return;
    const key = roomKeys.room(loaded.meta.appId, loaded.meta.roomId);
    this.#rooms.delete(key);
    this.#rooms.set(key, { ...loaded, fresh: false });
    if (this.#rooms.size > this.capacity) {
      const oldest = this.#rooms.keys().next().value;
      if (oldest !== undefined) this.#rooms.delete(oldest);
    }
  }

  forget(key: string): void {
    this.#rooms.delete(key);
  }

  /** Writes the membership and index keys of a change; safe to run again. */
  async applyOutbox(meta: RoomMeta): Promise<void> {
    const { appId, roomId, outbox } = meta;
    const joinedAt = String(outbox.at);
    await inBatches(outbox.joined, (u) =>
      Promise.all([
        this.kv.put(roomKeys.member(appId, roomId, u), joinedAt),
        this.kv.put(roomKeys.userRoom(appId, u, roomId), ""),
      ]),
    );
    await inBatches(outbox.left, (u) => this.#removeMember(appId, roomId, u));
    if (outbox.destroyed) {
      const keys = await readKeys(this.kv, roomKeys.members(appId, roomId));
      await inBatches([...keys.keys()], (k) => this.#removeMember(appId, roomId, roomKeys.lastId(k)));
    }
  }

  async #removeMember(appId: string, roomId: string, userId: string): Promise<void> {
    await Promise.all([
      this.kv.delete(roomKeys.member(appId, roomId, userId)),
      this.kv.delete(roomKeys.userRoom(appId, userId, roomId)),
    ]);
  }
}

function hasOutboxWork(outbox: RoomOutbox): boolean {
  return outbox.joined.length > 0 || outbox.left.length > 0 || outbox.destroyed;
}

function nextMembers(members: Set<string>, outbox: RoomOutbox): Set<string> {
  if (outbox.destroyed) return new Set();
  const next = new Set(members);
  for (const u of outbox.joined) next.add(u);
  for (const u of outbox.left) next.delete(u);
  return next;
}

function isWrongRevision(err: unknown): boolean {
  // JetStream "wrong last sequence" (10071); create on an existing key says the same.
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  return code === 10071 || /wrong last sequence|key exists/i.test(err.message);
}
