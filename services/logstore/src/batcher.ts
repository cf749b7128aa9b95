/**
 * Writes one batch; resolves with one outcome per row (undefined: stored, an Error: that row
 * failed alone), or rejects when the whole batch failed (Postgres down).
 */
export type WriteBatch<T> = (rows: T[]) => Promise<Array<Error | undefined>>;

export interface BatcherOptions<T> {
  /** Rows per write, at most. */
  maxRows: number;
  /** How long the first row of a batch waits for company before the batch is written. */
  lingerMs: number;
  /** Batches being written at once, at most; further full batches wait their turn. */
  maxWrites: number;
  write: WriteBatch<T>;
}

interface Pending<T> {
  row: T;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Groups rows into multi-row writes. add() settles only once the row's batch has committed, so a
 * consumer that awaits it acks a message after its row is durable, never before.
 */
export class Batcher<T> {
  private pending: Pending<T>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly writing = new Set<Promise<void>>();
  private readonly queued: Pending<T>[][] = [];

  constructor(private readonly opts: BatcherOptions<T>) {}

  add(row: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.pending.length >= this.opts.maxRows) this.cut();
      else this.timer ??= setTimeout(() => this.cut(), this.opts.lingerMs);
    });
  }

  /** Writes what is waiting and resolves once every batch in hand is settled. */
  async flush(): Promise<void> {
    this.cut();
    while (this.writing.size > 0 || this.queued.length > 0) await Promise.allSettled([...this.writing]);
  }

  private cut(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    this.queued.push(this.pending);
    this.pending = [];
    this.pump();
  }

  private pump(): void {
    while (this.writing.size < this.opts.maxWrites) {
      const batch = this.queued.shift();
      if (batch === undefined) return;
      const done: Promise<void> = this.run(batch).finally(() => {
        this.writing.delete(done);
        this.pump();
      });
      this.writing.add(done);
    }
  }

  private async run(batch: Pending<T>[]): Promise<void> {
    try {
      const outcomes = await this.opts.write(batch.map((p) => p.row));
      batch.forEach((p, i) => {
        const err = outcomes[i];
        if (err === undefined) p.resolve();
        else p.reject(err);
      });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      for (const p of batch) p.reject(e);
    }
  }
}
