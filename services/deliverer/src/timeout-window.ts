/** Counts timeouts in a sliding window: enough of them in a short time pause the endpoint. */
export class TimeoutWindow {
  private readonly times: number[] = [];

  constructor(
    private readonly count: number,
    private readonly windowMs: number,
  ) {}

  /** Notes a timeout at `now`; true when `count` fell within the window. */
  note(now: number): boolean {
    this.times.push(now);
    while (this.times.length > 0 && (this.times[0] ?? now) <= now - this.windowMs) this.times.shift();
    return this.times.length >= this.count;
  }

  reset(): void {
    this.times.length = 0;
  }
}
