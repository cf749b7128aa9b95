import type { KV } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { Logger } from "@herald/runtime";
import { presenceKeys } from "./keys.js";

/**
 * The latest reset of every node (r.<app>.<node> keys), kept in memory and followed by a KV
 * watch, so that folding an online costs no extra read.
 */
export class NodeResetCache {
  private readonly seqs = new Map<string, number>();
  private stopWatch: (() => void) | undefined;

  private constructor() {}

  static async start(kv: KV, log: Logger): Promise<NodeResetCache> {
    const cache = new NodeResetCache();
    // The watch starts before the listing, so no reset written in between is missed.
    const updates = await kv.watch({ key: "r.>", include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true });
    cache.stopWatch = () => updates.stop();
    void (async () => {
      for await (const e of updates) cache.note(e.key, Number(e.string()));
    })().catch((err: unknown) => log.warn({ err }, "node reset watch ended"));
    for await (const key of await kv.keys("r.>")) {
      const entry = await kv.get(key);
      if (entry?.operation === "PUT") cache.note(key, Number(entry.string()));
    }
    return cache;
  }

  /** Stream sequence of the node's latest reset, if it was ever reset. */
  get(appId: string, nodeId: string): number | undefined {
    return this.seqs.get(presenceKeys.nodeReset(appId, nodeId));
  }

  note(key: string, seq: number): void {
    if (Number.isFinite(seq) && seq > (this.seqs.get(key) ?? 0)) this.seqs.set(key, seq);
  }

  stop(): void {
    this.stopWatch?.();
  }
}
