/**
 * Requests one batch's write keeps in flight at most. Without a bound a node.reset's batch sent
 * every derived event and state of a partition at once (100,000 requests over 16 partitions):
 * nats.js timed them out on the client while they waited to be written, the partitions failed
 * and loaded again, and the event loop was too busy to renew leases. A few hundred keep a local
 * nats-server as busy as thousands do.
 */
export const WRITES_IN_FLIGHT = 256;

/** Maps `items` through `fn` with at most `limit` calls pending at once; results in input order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i] as T);
      }
    }),
  );
  return out;
}
