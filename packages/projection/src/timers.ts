/** The timers of one partition: one per key, popped in order of due time (a binary min-heap). */
export class TimerQueue {
  private readonly heap: { due: number; key: string }[] = [];
  private readonly dueByKey = new Map<string, number>();

  set(key: string, due: number | undefined): void {
    if (due === undefined) {
      this.dueByKey.delete(key);
      return;
    }
    if (this.dueByKey.get(key) === due) return;
    this.dueByKey.set(key, due);
    this.push({ due, key });
  }

  get size(): number {
    return this.dueByKey.size;
  }

  /** The earliest due time, if any timer is set. */
  next(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.due;
  }

  /** Removes and returns the key of the earliest timer due by `until`. */
  popDue(until: number): string | undefined {
    this.dropCancelled();
    const top = this.heap[0];
    if (top === undefined || top.due > until) return undefined;
    this.pop();
    this.dueByKey.delete(top.key);
    return top.key;
  }

  // Entries replaced or cancelled stay in the heap until they reach the top.
  private dropCancelled(): void {
    for (let top = this.heap[0]; top !== undefined; top = this.heap[0]) {
      if (this.dueByKey.get(top.key) === top.due) return;
      this.pop();
    }
  }

  private push(entry: { due: number; key: string }): void {
    const h = this.heap;
    h.push(entry);
    for (let i = h.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if ((h[parent] as typeof entry).due <= entry.due) break;
      h[i] = h[parent] as typeof entry;
      h[parent] = entry;
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    for (let i = 0; ;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && (h[l] as typeof last).due < (h[m] as typeof last).due) m = l;
      if (r < h.length && (h[r] as typeof last).due < (h[m] as typeof last).due) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m] as typeof last, h[i] as typeof last];
      i = m;
    }
  }
}
