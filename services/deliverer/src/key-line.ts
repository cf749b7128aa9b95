import type { Job } from "@herald/bus";
import type { JsMsg } from "@nats-io/jetstream";

/** One job held by this deliverer, from the moment its message arrives until it is settled. */
export interface Entry {
  job: Job;
  /** The message to acknowledge; undefined while the job's retry copy is on its way back. */
  msg: JsMsg | undefined;
  partition: number;
  /** performance.now() when the job reached this process. */
  arrivedAt: number;
  /** performance.now() when it became the head of its key (arrivedAt when it was at once). */
  headAt: number;
  /** Its wait for the key is reported once, with its first attempt here. */
  waitReported: boolean;
}

/**
 * The jobs of one ordering key of one endpoint, in key order (the events' stream sequence): only
 * the head is ever sent, and the next one only once the head is delivered or dead. A job without
 * order (an endpoint with ordering none, a replay, a test) gets a line of its own.
 */
export class KeyLine {
  readonly entries: Entry[] = [];
  /** The entries by delivery id: a hot key's line can be long, and every arrival looks itself up. */
  private readonly byDelivery = new Map<string, Entry>();
  /** Its head (a batch: a prefix) is being sent. */
  busy = false;
  /** Waiting in the endpoint's ready queue. */
  queued = false;
  timer: NodeJS.Timeout | undefined;
  timerDue = 0;

  constructor(
    /** The key, or "" for a line of one unordered job. */
    readonly key: string,
    readonly partition: number,
  ) {}

  get head(): Entry | undefined {
    return this.entries[0];
  }

  /** The entry of a delivery already held (an earlier copy of the same job), if any. */
  find(deliveryId: string): Entry | undefined {
    return this.byDelivery.get(deliveryId);
  }

  /**
   * Puts an entry in its place by order, after those of equal order (they arrived first).
   * True when it became the head.
   */
  insert(entry: Entry): boolean {
    let at = this.entries.length;
    while (at > 0 && (this.entries[at - 1] as Entry).job.order > entry.job.order) at--;
    // Never in front of a head being sent: it goes right behind it.
    if (at === 0 && this.busy) at = 1;
    if (at === this.entries.length) this.entries.push(entry);
    else this.entries.splice(at, 0, entry);
    this.byDelivery.set(entry.job.deliveryId, entry);
    return at === 0;
  }

  /** Takes an entry out (the head, nearly always); false when it was not in the line. */
  remove(entry: Entry): boolean {
    const at = this.entries[0] === entry ? 0 : this.entries.indexOf(entry);
    if (at < 0) return false;
    if (at === 0) this.entries.shift();
    else this.entries.splice(at, 1);
    if (this.byDelivery.get(entry.job.deliveryId) === entry) this.byDelivery.delete(entry.job.deliveryId);
    return true;
  }

  /** Empties the line. */
  clear(): void {
    this.entries.length = 0;
    this.byDelivery.clear();
  }

  /** Whether the head can be sent now (its message is here and its time has come). */
  headDue(now: number): boolean {
    const head = this.head;
    return head !== undefined && head.msg !== undefined && head.job.notBefore <= now;
  }
}
