import type { LeaseView } from "@herald/projection";
import { ensureError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { ConsumerMessages } from "@nats-io/jetstream";

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

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
