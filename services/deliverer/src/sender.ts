import {
  jobHeaders,
  later,
  publishAttempt,
  publishAttemptDurably,
  publishEvent,
  readJob,
  startConsumer,
} from "@herald/bus";
import type { Bus, ConsumerRunner, Delivery, Job, Later, NewAttemptRecord } from "@herald/bus";
import type { AppConfig, ConfigView, EndpointConfig, EndpointState } from "@herald/config";
import type { HttpRequestSpec } from "@herald/dialects";
import { appEgressPolicy, callBusinessServer, createGuardedAgent, type GuardedAgent } from "@herald/egress";
import { Event } from "@herald/proto";
import { ensureError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import { Batcher } from "./batcher.js";
import { EndpointStateCell } from "./endpoint-state.js";
import type { DelivererMetrics } from "./metrics.js";
import { renderRongCloudBatch, renderSingle, rongCloudRecord } from "./render.js";
import type { RongCloudRecord } from "./render.js";
import { Slots } from "./slots.js";
import { TimeoutWindow } from "./timeout-window.js";
import { isTimeout, judgeAttempt } from "./verdict.js";
import type { AttemptResult } from "./verdict.js";

export interface SenderDeps {
  bus: Bus;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  /** Loopback destinations allowed for every app (local development). */
  allowLoopback: boolean;
}

type Lane = "fresh" | "retry";

/** One HTTP request and what came back: for a batch, shared by every job in it. */
interface Sent {
  request: HttpRequestSpec;
  result: AttemptResult;
}

interface BatchItem {
  job: Job;
  record: RongCloudRecord;
}

// Waiting retries hold a pending slot each until their time comes, so the retry lane allows many.
const RETRY_LANE_MAX_PENDING = 20_000;
// After a crash, jobs the dead process held come back this long after their longest possible attempt.
const ACK_WAIT_MARGIN_MS = 10_000;

/** The durable consumer of one lane of one endpoint; the length prefix keeps (app, endpoint) pairs apart. */
export function consumerName(lane: Lane, appId: string, endpointId: string): string {
  return `${lane === "fresh" ? "dl" : "dr"}-${appId.length}-${appId}-${endpointId}`;
}

/**
 * Sends one endpoint's jobs: two lanes (fresh jobs, and retries waiting for their time) each with its
 * own durable consumer, so a backlog of retries never holds up fresh deliveries, and an endpoint that
 * hangs only ever fills its own consumers. HTTP requests in flight are limited by `concurrency`,
 * shared first-come first-served by both lanes, through the endpoint's own connection pool.
 */
export class EndpointSender {
  private readonly agent: GuardedAgent;
  private readonly slots: Slots;
  private readonly state: EndpointStateCell;
  private readonly timeouts: TimeoutWindow;
  private readonly batcher: Batcher<BatchItem, Sent> | undefined;
  private readonly log: Logger;
  private runners: ConsumerRunner[] = [];
  private pausedUntil = 0;
  private probing = false;

  constructor(
    private readonly deps: SenderDeps,
    readonly appId: string,
    readonly endpoint: EndpointConfig,
    private app: AppConfig,
  ) {
    this.log = deps.log.child({ appId, endpointId: endpoint.id, dialect: endpoint.dialect });
    this.agent = createGuardedAgent(appEgressPolicy(app, deps.allowLoopback), {
      connections: endpoint.concurrency,
    });
    this.slots = new Slots(endpoint.concurrency);
    this.state = new EndpointStateCell(deps.bus, deps.view, appId, endpoint.id, this.log);
    const { count, windowMs } = endpoint.pauseOnTimeouts;
    this.timeouts = new TimeoutWindow(count, windowMs);
    if (endpoint.dialect === "rongcloud") {
      this.batcher = new Batcher(endpoint.batch.maxRecords, endpoint.batch.maxLingerMs, (items) =>
        this.sendBatch(items),
      );
    }
  }

  start(): void {
    const { bus } = this.deps;
    const { concurrency, batch, timeoutMs } = this.endpoint;
    const ackWaitMs = 2 * timeoutMs + batch.maxLingerMs + ACK_WAIT_MARGIN_MS;
    const fresh = concurrency * batch.maxRecords;
    const retries = Math.max(1, Math.ceil(concurrency / 2)) * batch.maxRecords;
    const lane = (name: Lane, filterSubject: string, handlers: number, maxAckPending: number) =>
      startConsumer({
        bus,
        log: this.log,
        concurrency: handlers,
        spec: {
          stream: bus.names.streams.deliveries,
          durable: consumerName(name, this.appId, this.endpoint.id),
          filterSubject,
          ackWaitMs,
          maxAckPending,
        },
        handle: (d) => this.handle(d, name),
      });
    const subjects = bus.names.subjects;
    this.runners = [
      lane("fresh", subjects.delivery(this.appId, this.endpoint.id), fresh, fresh * 4),
      lane("retry", subjects.deliveryRetry(this.appId, this.endpoint.id), retries, RETRY_LANE_MAX_PENDING),
    ];
  }

  /** The app's settings other than this endpoint changed (e.g. its OpenIM URL style). */
  updateApp(app: AppConfig): void {
    this.app = app;
  }

  async stop(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop(signal)));
    this.batcher?.flush();
    await this.agent.close().catch(() => undefined);
  }

  private async handle(d: Delivery, lane: Lane): Promise<void | Later> {
    const job = readJob(d, this.appId, this.endpoint.id);
    if (job === undefined) {
      this.log.error({ subject: d.subject, seq: d.seq }, "message without delivery headers dropped");
      return;
    }
    const now = Date.now();
    if (job.notBefore > now) return later(job.notBefore - now);
    const state = this.state.current()?.state;
    const attempt = job.attemptsMade + 1;
    if (state?.state === "disabled") {
      await this.dead(job, attempt, undefined, undefined, `endpoint disabled: ${state.reason}`);
      return;
    }
    const pausedUntil = Math.max(
      this.pausedUntil,
      state?.state === "paused" ? Date.parse(state.until ?? "") : 0,
    );
    if (pausedUntil > now) return later(pausedUntil - now);

    let event: Event | undefined;
    let sent: Sent;
    try {
      event = Event.decode(job.event);
      sent = await (this.batcher === undefined
        ? this.sendOne(job, event)
        : this.batcher.add({ job, record: rongCloudRecord(event) }));
    } catch (thrown) {
      // Sending never throws, so this is an event that cannot be decoded or said in this dialect (or an
      // endpoint without its keys): nothing that time will mend.
      await this.dead(job, attempt, event, undefined, ensureError(thrown).message);
      return;
    }
    await this.settle(d, lane, job, attempt, event, sent);
  }

  private sendOne(job: Job, event: Event): Promise<Sent> {
    const request = renderSingle(this.endpoint, this.app, event, job.deliveryId, new Date());
    return this.slots.run(async () => ({ request, result: await this.call(request) }));
  }

  private sendBatch(items: BatchItem[]): Promise<Sent> {
    const request = renderRongCloudBatch(
      this.endpoint,
      items.map((i) => i.record),
      items.map((i) => i.job.deliveryId),
      new Date(),
    );
    return this.slots.run(async () => ({ request, result: await this.call(request) }));
  }

  private async call(request: HttpRequestSpec): Promise<AttemptResult> {
    const result = await callBusinessServer(this.agent, request, this.endpoint.timeoutMs);
    this.deps.metrics.attemptSeconds.observe({ dialect: this.endpoint.dialect }, result.latencyMs / 1000);
    return { ...result, retryAfterMs: result.headers.retryAfterMs };
  }

  private async settle(
    d: Delivery,
    lane: Lane,
    job: Job,
    attempt: number,
    event: Event,
    { request, result }: Sent,
  ): Promise<void> {
    const now = Date.now();
    const verdict = judgeAttempt(this.endpoint, attempt, result);
    this.deps.metrics.attempts.inc({ dialect: this.endpoint.dialect, verdict: verdict.kind });
    this.watchTimeouts(result, now);
    const record = this.record(job, attempt, event, request, result);
    switch (verdict.kind) {
      case "delivered":
        publishAttempt(this.deps.bus, { ...record, outcome: "delivered" });
        await this.recovered(now);
        return;
      case "retry": {
        const { bus } = this.deps;
        await publishEvent(bus, bus.names.subjects.deliveryRetry(this.appId, this.endpoint.id), job.event, {
          // One retry per message this lane took, however often this handler runs for it.
          msgId: `retry:${lane}:${d.seq}`,
          headers: jobHeaders({ ...job, attemptsMade: attempt, notBefore: now + verdict.delayMs }),
        });
        publishAttempt(bus, { ...record, outcome: "retry", error: verdict.error });
        return;
      }
      case "dead":
        await publishAttemptDurably(this.deps.bus, deadRecord(record, job, verdict.error));
        if (verdict.disable !== undefined) await this.disable(verdict.disable, now);
        else await this.exhausted(now);
        return;
    }
  }

  private record(
    job: Job,
    attempt: number,
    event: Event | undefined,
    request: HttpRequestSpec | undefined,
    result: AttemptResult | undefined,
  ): NewAttemptRecord {
    return {
      kind: "delivery",
      appId: this.appId,
      endpointId: this.endpoint.id,
      eventId: job.eventId,
      deliveryId: job.deliveryId,
      attempt,
      eventType: job.eventType,
      dialect: this.endpoint.dialect,
      trigger: job.trigger,
      operationId: event === undefined || event.operationId === "" ? job.eventId : event.operationId,
      url: request?.url ?? this.endpoint.url,
      requestBody: request?.body ?? "",
      status: result?.status ?? 0,
      responseBody: result?.body ?? "",
      latencyMs: result?.latencyMs ?? 0,
      outcome: "",
      error: "",
    };
  }

  /** A job that leaves without a request: recorded as dead, durably, before it is acknowledged. */
  private async dead(
    job: Job,
    attempt: number,
    event: Event | undefined,
    request: HttpRequestSpec | undefined,
    error: string,
  ): Promise<void> {
    this.deps.metrics.attempts.inc({ dialect: this.endpoint.dialect, verdict: "dead" });
    const record = this.record(job, attempt, event, request, undefined);
    await publishAttemptDurably(this.deps.bus, deadRecord(record, job, error));
  }

  // Mass timeouts pause the endpoint; after the pause, the first answer decides: another timeout
  // pauses it again at once, anything else closes the episode.
  private watchTimeouts(result: AttemptResult, now: number): void {
    if (isTimeout(result)) {
      const probeFailed = this.probing && now >= this.pausedUntil;
      if (probeFailed || this.timeouts.note(now)) this.pause(now);
    } else if (this.probing && now >= this.pausedUntil) {
      this.probing = false;
    }
  }

  private pause(now: number): void {
    const { count, windowMs, pauseMs } = this.endpoint.pauseOnTimeouts;
    this.pausedUntil = now + pauseMs;
    this.probing = true;
    this.timeouts.reset();
    const reason = `${count} timeouts within ${windowMs} ms: paused for ${pauseMs} ms`;
    this.log.warn({ until: new Date(this.pausedUntil).toISOString() }, reason);
    this.deps.metrics.stateChanges.inc({ state: "paused" });
    const current = this.state.current()?.state;
    void this.state.write({
      state: "paused",
      until: new Date(this.pausedUntil).toISOString(),
      reason,
      since: new Date(now).toISOString(),
      ...(current?.failingSince === undefined ? {} : { failingSince: current.failingSince }),
    });
  }

  private async disable(reason: string, now: number): Promise<void> {
    this.log.warn({ reason }, "endpoint disabled");
    this.deps.metrics.stateChanges.inc({ state: "disabled" });
    await this.state.write({ state: "disabled", reason, since: new Date(now).toISOString() });
  }

  // A success ends a finished pause and stops the failure clock.
  private async recovered(now: number): Promise<void> {
    const current = this.state.current()?.state;
    if (current === undefined) return;
    const pauseOver = current.state === "paused" && Date.parse(current.until ?? "") <= now;
    if (pauseOver || (current.state === "active" && current.failingSince !== undefined)) {
      await this.state.write(activeState(now));
    }
  }

  // Svix's rule for standard endpoints: a first exhausted delivery starts a clock that any success
  // stops; an exhausted delivery after `disableAfterFailingMs` on that clock disables the endpoint.
  private async exhausted(now: number): Promise<void> {
    const limitMs = this.endpoint.disableAfterFailingMs;
    if (limitMs <= 0) return;
    const current = this.state.current()?.state ?? activeState(now);
    if (current.failingSince === undefined) {
      await this.state.write({ ...current, failingSince: new Date(now).toISOString() });
    } else if (now - Date.parse(current.failingSince) >= limitMs) {
      await this.disable(`failing since ${current.failingSince} with no success`, now);
    }
  }
}

function deadRecord(record: NewAttemptRecord, job: Job, error: string): NewAttemptRecord {
  return { ...record, outcome: "dead", error, event: Buffer.from(job.event).toString("base64") };
}

function activeState(now: number): EndpointState {
  return { state: "active", reason: "", since: new Date(now).toISOString() };
}
