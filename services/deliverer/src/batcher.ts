/**
 * Gathers items into batches of at most `maxItems`, sending a batch when it is full or when its first
 * item has waited `maxLingerMs`. Each add() resolves with its batch's result.
 */
export class Batcher<Item, Result> {
  private pending: Array<{ item: Item; resolve(r: Result): void; reject(e: unknown): void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxItems: number,
    private readonly maxLingerMs: number,
    private readonly send: (items: Item[]) => Promise<Result>,
  ) {}

  add(item: Item): Promise<Result> {
    const result = new Promise<Result>((resolve, reject) => this.pending.push({ item, resolve, reject }));
    if (this.pending.length >= this.maxItems) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxLingerMs);
    return result;
  }

  /** Sends what is gathered now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.send(batch.map((b) => b.item)).then(
      (result) => batch.forEach((b) => b.resolve(result)),
      (err: unknown) => batch.forEach((b) => b.reject(err)),
    );
  }
}
