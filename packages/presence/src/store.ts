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

export async function readUserState(kv: KV, key: string): Promise<StoredState> {
  const entry = await kv.get(key);
  if (entry === null || entry.operation !== "PUT" || entry.length === 0) {
    return { state: undefined, revision: entry?.revision ?? 0 };
  }
  return { state: decodeUserState(entry.value), revision: entry.revision };
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
): Promise<CasFoldResult> {
  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await readUserState(kv, key);
    const result = { ...fold(state), previous: state };
    if (!result.changed) return result;
    try {
      const data = encodeUserState(result.state);
      if (revision === 0) await kv.create(key, data);
      else await kv.update(key, data, revision);
      return result;
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      onConflict();
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
