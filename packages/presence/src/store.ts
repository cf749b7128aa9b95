import type { KV } from "@nats-io/kv";
import { RetryableError } from "@herald/runtime";
import { decodeUserState, encodeUserState } from "./state.js";
import type { UserState } from "./state.js";
import type { FoldResult } from "./fold.js";

/** Compare-and-set kept losing to concurrent writers of the same user. */
export class PresenceConflictError extends RetryableError {
  override readonly name = "PresenceConflictError";
  constructor(
    readonly key: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`presence state ${key} changed under us ${attempts} times`, options);
  }
}

export interface StoredState {
  state: UserState | undefined;
  /** 0 when the key does not exist. */
  revision: number;
}

/** A fold as written, with the state it replaced. */
export type CasFoldResult = FoldResult & { previous: UserState | undefined };

const CAS_ATTEMPTS = 10;
const ABSENT: StoredState = { state: undefined, revision: 0 };

export async function readUserState(kv: KV, key: string): Promise<StoredState> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) {
    return { state: undefined, revision: entry?.revision ?? 0 };
  }
  return { state: decodeUserState(entry.value), revision: entry.revision };
}

/**
 * The states this process wrote or read last, with their revisions, so a fold needs no read
 * when nobody else wrote the key since. A stale entry costs one failed compare-and-set, after
 * which the key is read again: correctness never rests on the cache.
 */
export class StateCache {
  readonly #entries = new Map<string, StoredState>();

  constructor(private readonly capacity = 100_000) {}

  get(key: string): StoredState | undefined {
    return this.#entries.get(key);
  }

  set(key: string, stored: StoredState): void {
    this.#entries.delete(key);
    this.#entries.set(key, stored);
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }
}

/**
 * Reads, folds and writes one user's state with compare-and-set on the revision, retrying when
 * another writer got there first. Resolves with the fold that was written (or found unchanged).
 */
export async function casFold(
  kv: KV,
  key: string,
  fold: (state: UserState | undefined) => FoldResult,
  onConflict: () => void,
  cache?: StateCache,
  /** Fold a key missing from the cache as a new one first (create), reading only if it exists. */
  guessAbsent = false,
): Promise<CasFoldResult> {
  for (let attempt = 1; ; attempt++) {
    const cached = cache?.get(key);
    const guess = cached === undefined && guessAbsent && attempt === 1 ? ABSENT : undefined;
    const stored = cached ?? guess ?? (await readUserState(kv, key));
    const { state, revision } = stored;
    const result = { ...fold(state), previous: state };
    if (!result.changed) {
      // "Nothing to do" is only true of the current state: a cached one may be stale (another
      // replica wrote since), and no compare-and-set would tell. Read it and fold again.
      if (cached !== undefined || guess !== undefined) {
        cache?.forget(key);
        continue;
      }
      cache?.set(key, stored);
      return result;
    }
    try {
      const data = encodeUserState(result.state);
      const written = revision === 0 ? await kv.create(key, data) : await kv.update(key, data, revision);
      cache?.set(key, { state: result.state, revision: written });
      return result;
    } catch (err) {
      cache?.forget(key);
      if (!isWrongRevision(err)) throw err;
      if (guess === undefined) onConflict(); // a wrong guess is no conflict with anyone

      if (attempt >= CAS_ATTEMPTS) throw new PresenceConflictError(key, attempt, { cause: err });
    }
  }
}

function isWrongRevision(err: unknown): boolean {
  // JetStream "wrong last sequence" (10071); create on an existing key says the same.
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  return code === 10071 || /wrong last sequence|key exists/i.test(err.message);
}
