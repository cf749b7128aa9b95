import { readJob } from "@herald/bus";
import type { EndpointConfig } from "@herald/config";
import { createAppAgents } from "@herald/egress";
import type { AppAgents } from "@herald/egress";
import type { LeaseView } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import type { JsMsg } from "@nats-io/jetstream";
import { EndpointQueue, SendSlots } from "./endpoint-queue.js";
import type { QueueDeps } from "./endpoint-queue.js";
import { endpointsOf } from "./routes.js";

export type DispatcherDeps = Omit<QueueDeps, "sendable" | "inFlight" | "agents" | "slots"> & {
  /** Loopback destinations allowed for every app (local development). */
  allowLoopback: boolean;
  /** Requests in flight in this process, over every endpoint. */
  maxInFlight: number;
};

interface OwnedPartition {
  lease: LeaseView;
  loaded: boolean;
  inFlight: number;
  /** Called when inFlight drops to 0. */
  drained: (() => void) | undefined;
}

/** How long jobs of an endpoint missing from the config are kept, in case it is only late to arrive. */
const MISSING_ENDPOINT_GRACE_MS = 60_000;
/** An endpoint queue with nothing held for this long is closed (its connection pool with it). */
const IDLE_QUEUE_MS = 5 * 60_000;
const SWEEP_MS = 5_000;

/**
 * Hands every job message of the partitions this deliverer owns to its endpoint's queue, creating
 * queues as jobs arrive (so the cost follows the endpoints that have work, not those configured),
 * keeps them in step with the config, and says which partitions may be sent now.
 */
export class Dispatcher {
  private readonly queues = new Map<string, EndpointQueue>();
  private readonly partitions = new Map<number, OwnedPartition>();
  private readonly idleSince = new Map<EndpointQueue, number>();
  private readonly log: Logger;
  private readonly unsubscribe: () => void;
  private readonly sweeper: NodeJS.Timeout;
  private readonly queueDeps: QueueDeps;
  private readonly agents: AppAgents;

  constructor(private readonly deps: DispatcherDeps) {
    this.log = deps.log.child({ component: "dispatcher" });
    this.agents = createAppAgents(deps.allowLoopback);
    this.queueDeps = {
      ...deps,
      agents: this.agents,
      slots: new SendSlots(deps.maxInFlight),
      sendable: (p) => {
        const owned = this.partitions.get(p);
        return owned !== undefined && owned.loaded && owned.lease.valid();
      },
      inFlight: (p, delta) => {
        const owned = this.partitions.get(p);
        if (owned === undefined) return;
        owned.inFlight += delta;
        if (owned.inFlight === 0) owned.drained?.();
      },
    };
    this.unsubscribe = deps.view.onChange((appId) => this.configChanged(appId));
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Endpoint queues open now. */
  size(): number {
    return this.queues.size;
  }

  /** Jobs held now, over every queue. */
  held(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.size;
    return n;
  }

  own(partition: number, lease: LeaseView): void {
    this.partitions.set(partition, { lease, loaded: false, inFlight: 0, drained: undefined });
  }

  /** Stops sending a partition's jobs, waits for those being sent, and forgets the rest. */
  async reset(partition: number): Promise<void> {
    const owned = this.partitions.get(partition);
    if (owned === undefined) return;
    owned.loaded = false;
    if (owned.inFlight > 0) await new Promise<void>((resolve) => (owned.drained = resolve));
    owned.drained = undefined;
    for (const q of this.queues.values()) q.dropPartition(partition);
  }

  async disown(partition: number): Promise<void> {
    await this.reset(partition);
    this.partitions.delete(partition);
  }

  loaded(partition: number): void {
    const owned = this.partitions.get(partition);
    if (owned === undefined) return;
    owned.loaded = true;
    for (const q of this.queues.values()) q.wake();
  }

  message(partition: number, m: JsMsg): void {
    // A message a stopped consumer still had buffered: the partition's next owner reads it anew.
    if (!this.partitions.has(partition)) return;
    const job = readJob({ subject: m.subject, headers: headerRecord(m), data: m.data });
    if (job === undefined) {
      this.log.error({ subject: m.subject, seq: m.seq }, "message without delivery headers dropped");
      m.ack();
      return;
    }
    const key = `${job.appId}\n${job.endpointId}`;
    let queue = this.queues.get(key);
    if (queue === undefined) {
      const app = this.deps.view.app(job.appId);
      queue = new EndpointQueue(
        this.queueDeps,
        job.appId,
        job.endpointId,
        this.endpointOf(job.appId, job.endpointId),
        app,
      );
      this.queues.set(key, queue);
    }
    this.idleSince.delete(queue);
    const now = performance.now();
    queue.add({ job, msg: m, partition, arrivedAt: now, headAt: now, waitReported: false });
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.sweeper);
    for (const q of this.queues.values()) q.close();
    await this.agents.close();
  }

  private endpointOf(appId: string, endpointId: string): EndpointConfig | undefined {
    const app = this.deps.view.app(appId);
    return app === undefined ? undefined : endpointsOf(app).find((e) => e.id === endpointId);
  }

  private configChanged(appId: string): void {
    const app = this.deps.view.app(appId);
    for (const q of this.queues.values()) {
      if (q.appId === appId) q.update(this.endpointOf(appId, q.endpointId), app);
    }
  }

  // Closes queues idle for long, and drops the jobs of endpoints gone from the config for good (as
  // the deleted endpoint's backlog was purged before: nothing could ever deliver them).
  private sweep(): void {
    const now = performance.now();
    for (const [key, q] of this.queues) {
      if (q.busy) continue;
      if (q.missingSince > 0 && now - q.missingSince >= MISSING_ENDPOINT_GRACE_MS) {
        const dropped = q.dropAll();
        if (dropped > 0) {
          this.log.warn(
            { appId: q.appId, endpointId: q.endpointId, dropped },
            "endpoint removed; its waiting jobs dropped",
          );
        }
      }
      if (q.size > 0) continue;
      const since = this.idleSince.get(q);
      if (since === undefined) this.idleSince.set(q, now);
      else if (now - since >= IDLE_QUEUE_MS) {
        this.queues.delete(key);
        this.idleSince.delete(q);
        q.close();
      }
    }
  }
}

function headerRecord(m: JsMsg): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of m.headers ?? []) {
    const first = values[0];
    if (first !== undefined) out[key] = first;
  }
  return out;
}
