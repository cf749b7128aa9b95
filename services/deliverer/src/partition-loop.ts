import type { LeaseView } from "@herald/projection";
import { ensureError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { ConsumerMessages } from "@nats-io/jetstream";

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;
const MISSED_HEARTBEATS_BEFORE_RELOAD = 2;
/** Pulls expire this often, so heartbeats come every few seconds and a dead stream leader is noticed. */
export const PULL_EXPIRES_MS = 10_000;

export interface LoopOptions {
  log: Logger;
  partition: number;
  lease: LeaseView;
  /** Logged when a round fails ("routing failed; reading again"). */
  failed: string;
}

/**
 * A partition's work for its owner: rounds of `round()` until stopped or the lease ends, each
 * failure followed by a pause that grows (0.2 s to 5 s) and a new round from what is stored.
 */
export abstract class PartitionLoop {
  protected stopping = false;
  /** The round's consumer: closed by stop(), which ends the round. */
  protected messages: ConsumerMessages | undefined;
  readonly finished: Promise<void>;

  constructor(private readonly loop: LoopOptions) {
    // After the subclass's constructor: a round reads its fields.
    this.finished = Promise.resolve().then(() => this.run());
  }

  async stop(): Promise<void> {
    this.stopping = true;
    void this.messages?.close().catch(() => undefined);
    await this.finished;
  }

  protected abstract round(): Promise<void>;

  /**
   * Ends the round's consumer when it went quiet (heartbeats missed: its stream or consumer leader
   * died, in a cluster) or went away, so the next round starts again from what is stored.
   */
  protected watch(messages: ConsumerMessages): void {
    void (async () => {
      for await (const s of messages.status()) {
        const missed = s.type === "heartbeats_missed" && s.count >= MISSED_HEARTBEATS_BEFORE_RELOAD;
        const gone =
          s.type === "consumer_deleted" || s.type === "consumer_not_found" || s.type === "stream_not_found";
        if (missed || gone) {
          this.loop.log.warn(
            { partition: this.loop.partition, status: s.type },
            "consumer lost; reading again",
          );
          void messages.close().catch(() => undefined);
        }
      }
    })();
  }

  private async run(): Promise<void> {
    const { log, partition, lease, failed } = this.loop;
    for (let failures = 0; !this.stopping && lease.valid();) {
      try {
        await this.round();
        failures = 0;
      } catch (thrown) {
        if (this.stopping) break;
        failures++;
        const pauseMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** (failures - 1));
        log.warn({ err: ensureError(thrown), partition, pauseMs }, failed);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }
}
