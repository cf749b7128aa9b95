export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long it stays open before one probe is let through. */
  openMs: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/**
 * Fails fast while a business server is down: after `failureThreshold` failures in a row the
 * breaker opens for `openMs`, then lets one call through as a probe; its success closes the
 * breaker, its failure opens it again.
 */
export class Breaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get state(): BreakerState {
    return this.#state;
  }

  /** May a call go out now? In half-open state only the one probe may. */
  allow(settings: BreakerSettings): boolean {
    if (this.#state === "closed") return true;
    if (this.#state === "open" && this.now() - this.#openedAt >= settings.openMs) {
      this.#state = "half-open";
      return true;
    }
    return false;
  }

  success(): void {
    this.#state = "closed";
    this.#failures = 0;
  }

  failure(settings: BreakerSettings): void {
    this.#failures += 1;
    if (this.#state === "half-open" || this.#failures >= settings.failureThreshold) {
      this.#state = "open";
      this.#openedAt = this.now();
    }
  }
}

/** One breaker per key, created on first use. */
export class Breakers {
  readonly #byKey = new Map<string, Breaker>();

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): Breaker {
    let b = this.#byKey.get(key);
    if (b === undefined) {
      b = new Breaker(this.now);
      this.#byKey.set(key, b);
    }
    return b;
  }

  openCount(): number {
    let n = 0;
    for (const b of this.#byKey.values()) if (b.state !== "closed") n += 1;
    return n;
  }
}
