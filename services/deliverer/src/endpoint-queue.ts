import { jobHeaders, publishAttempt, publishAttemptDurably, publishEvent } from "@herald/bus";
import type { Bus, Job, NewAttemptRecord } from "@herald/bus";
import type { AppConfig, ConfigView, EndpointConfig, EndpointState } from "@herald/config";
import type { HttpRequestSpec } from "@herald/dialects";
import { callBusinessServer } from "@herald/egress";
import type { AppAgents } from "@herald/egress";
import { Event } from "@herald/proto";
import {
  NO_TRACE,
  SpanKind,
  endSpan,
  ensureError,
  startSpan,
  traceHeaders,
  traceIdOf,
  tracedLogger,
} from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import { EndpointStateCell } from "./endpoint-state.js";
import { KeyLine } from "./key-line.js";
import type { Entry } from "./key-line.js";
import type { DelivererMetrics } from "./metrics.js";
import { checkSays, dialectOfEndpoint, renderRequest } from "./render.js";
import { TimeoutWindow } from "./timeout-window.js";
import { isTimeout, judgeAttempt } from "./verdict.js";
import type { AttemptContext, Verdict } from "./verdict.js";
import type { AttemptResult } from "./verdict.js";

export interface QueueDeps {
  bus: Bus;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  /**
   * Connection pools shared by every endpoint, one per egress policy: an endpoint's `concurrency`
   * is held by its queue, so a hanging endpoint holds at most that many connections, and thousands
   * of endpoints of one business server share its keep-alive connections.
   */
  agents: AppAgents;
  /** The process's limit on requests in flight, over every endpoint. */
  slots: SendSlots;
  /** Whether jobs of a partition may be sent now (loaded, and still ours). */
  sendable(partition: number): boolean;
  /** A send of a partition's jobs started (+1) or settled (-1). */
  inFlight(partition: number, delta: number): void;
}

/**
 * The requests in flight of the whole process, at most `max`: with thousands of endpoints each
 * sending at once, the sockets, timers and buffers of unbounded parallel requests stalled the event
 * loop past the endpoints' timeouts. Queues refused a slot wait in turn, first come first served.
 */
export class SendSlots {
  private used = 0;
  private readonly waiting = new Set<EndpointQueue>();

  constructor(private readonly max: number) {}

  take(queue: EndpointQueue): boolean {
    if (this.used < this.max) {
      this.used++;
      return true;
    }
    this.waiting.add(queue);
    return false;
  }

  /** A slot came free: the queue that waited longest may take it. */
  give(): void {
    this.used--;
    this.passOn();
  }

  /**
   * Wakes the next waiting queue while a slot is free. Every pump ends with it, so a woken queue
   * that no longer needs the slot hands the turn on, and no queue waits while slots are free.
   */
  passOn(): void {
    if (this.used >= this.max) return;
    const next = this.waiting.values().next();
    if (next.done === true) return;
    this.waiting.delete(next.value);
    next.value.schedulePump();
  }

  get inUse(): number {
    return this.used;
  }
}

/** One job of a send, with the line it heads. */
interface Item {
  line: KeyLine;
  entry: Entry;
  event?: Event;
  /** The trace id the attempt's request carried, once it is sent. */
  traceId?: string;
}

// A dead record that could not be stored is tried again this much later.
const DEAD_RECORD_RETRY_MS = 5_000;

/**
 * Sends one endpoint's jobs, from every partition this deliverer owns: jobs of one key one after
 * another (ordering key), every line's head in parallel up to the endpoint's concurrency, through
 * the endpoint's own connection pool. A line whose head waits for a retry holds only itself; a paused
 * endpoint holds only its own lines. RongCloud batches take the heads of ready lines (and the jobs
 * right behind them), so records keep key order inside an array and across arrays.
 */
export class EndpointQueue {
  private readonly lines = new Map<string, KeyLine>();
  /** Lines of one unordered job each. */
  private readonly loose = new Set<KeyLine>();
  private readonly ready: KeyLine[] = [];
  private readyAt = 0;
  private inFlight = 0;
  private held = 0;
  private readonly state: EndpointStateCell;
  private timeouts: TimeoutWindow;
  private pausedUntil = 0;
  private probing = false;
  /** Timeouts since the last answer: some dialects disable after a few (MQTT-chat: "inaccessible URLs cause timeouts"). */
  private timeoutsInARow = 0;
  private lastTimeoutAt = 0;
  /** Requests since the last delivered one that failed (retry or dead), as this deliverer saw them. */
  private failedInARow = 0;
  private pumpScheduled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private lingerUntil = 0;
  private readonly log: Logger;
  /** performance.now() since when the endpoint is missing from the config (0: it is there). */
  missingSince = 0;

  constructor(
    private readonly deps: QueueDeps,
    readonly appId: string,
    readonly endpointId: string,
    private endpoint: EndpointConfig | undefined,
    private app: AppConfig | undefined,
  ) {
    this.log = deps.log.child({ appId, endpointId });
    this.state = new EndpointStateCell(deps.bus, deps.view, appId, endpointId, this.log);
    this.timeouts = this.timeoutWindow();
    if (endpoint === undefined) this.missingSince = performance.now();
  }

  /** Jobs held (waiting or being sent). */
  get size(): number {
    return this.held;
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** The endpoint's settings changed, or it went from the config (undefined), or came back. */
  update(endpoint: EndpointConfig | undefined, app: AppConfig | undefined): void {
    const pauseChanged =
      JSON.stringify(endpoint?.pauseOnTimeouts) !== JSON.stringify(this.endpoint?.pauseOnTimeouts);
    this.endpoint = endpoint;
    this.app = app;
    if (pauseChanged) this.timeouts = this.timeoutWindow();
    this.missingSince = endpoint === undefined ? this.missingSince || performance.now() : 0;
    this.schedulePump();
  }

  /** Takes a job's message: into its key's line, or merged with the copy of it already held. */
  add(entry: Entry): void {
    const { job } = entry;
    const ordered = job.key !== "" && job.trigger === "event" && this.endpoint?.ordering !== "none";
    if (!ordered) {
      const line = new KeyLine("", entry.partition);
      line.insert(entry);
      this.loose.add(line);
      this.held++;
      this.refresh(line);
      return;
    }
    let line = this.lines.get(job.key);
    if (line === undefined) {
      line = new KeyLine(job.key, entry.partition);
      this.lines.set(job.key, line);
    }
    const known = line.find(job.deliveryId);
    if (known !== undefined) {
      this.merge(line, known, entry);
      return;
    }
    this.held++;
    if (line.insert(entry)) {
      // It went in front of a head that was waiting (a job routed late): that one waits for it now.
      const behind = line.entries[1];
      if (behind !== undefined) behind.headAt = Number.POSITIVE_INFINITY;
    } else {
      entry.headAt = Number.POSITIVE_INFINITY;
    }
    this.refresh(line);
  }

  /**
   * A second message of a job already held: the retry copy it waits for, the same message again
   * (redelivered), or another copy (a crash between storing a retry and acknowledging the original).
   * The one with more attempts made stays; the other is acknowledged, as it is the same delivery.
   */
  private merge(line: KeyLine, known: Entry, incoming: Entry): void {
    const sameMessage = known.msg !== undefined && known.msg.seq === incoming.msg?.seq;
    if (sameMessage) {
      known.msg = incoming.msg;
      return;
    }
    const inFlight = line.busy && line.entries.indexOf(known) === 0;
    const newer = incoming.job.attemptsMade > known.job.attemptsMade;
    const awaited = known.msg === undefined && incoming.job.attemptsMade >= known.job.attemptsMade;
    if (awaited || (!inFlight && newer)) {
      known.msg?.ack();
      known.msg = incoming.msg;
      known.job = incoming.job;
      this.refresh(line);
      return;
    }
    incoming.msg?.ack();
  }

  /** Forgets every line of a partition that is no longer ours (none of them is being sent). */
  dropPartition(partition: number): void {
    for (const line of this.allLines()) {
      if (line.partition === partition) this.forget(line);
    }
    const kept = this.ready.slice(this.readyAt).filter((l) => l.partition !== partition);
    this.ready.length = 0;
    this.readyAt = 0;
    this.ready.push(...kept);
  }

  /** Acknowledges every job held (the endpoint was removed for good); returns how many. */
  dropAll(): number {
    let dropped = 0;
    for (const line of this.allLines()) {
      for (const e of line.entries) e.msg?.ack();
      dropped += line.entries.length;
      this.forget(line);
    }
    this.ready.length = 0;
    this.readyAt = 0;
    return dropped;
  }

  private *allLines(): Iterable<KeyLine> {
    yield* [...this.lines.values(), ...this.loose];
  }

  private forget(line: KeyLine): void {
    clearTimeout(line.timer);
    this.held -= line.entries.length;
    line.clear();
    this.loose.delete(line);
    if (this.lines.get(line.key) === line) this.lines.delete(line.key);
  }

  /** Lines of a partition that just became sendable. */
  wake(): void {
    for (const line of this.allLines()) this.refresh(line);
    this.schedulePump();
  }

  close(): void {
    clearTimeout(this.wakeTimer);
    for (const line of this.allLines()) clearTimeout(line.timer);
  }

  /** Puts a line in the ready queue when its head can go, or sets a timer for when it can. */
  private refresh(line: KeyLine): void {
    if (line.busy || line.queued) return;
    const head = line.head;
    if (head === undefined || head.msg === undefined) return;
    const now = Date.now();
    if (head.job.notBefore > now) {
      if (line.timer === undefined || line.timerDue > head.job.notBefore) {
        clearTimeout(line.timer);
        line.timerDue = head.job.notBefore;
        line.timer = setTimeout(() => {
          line.timer = undefined;
          this.refresh(line);
        }, head.job.notBefore - now);
      }
      return;
    }
    line.queued = true;
    this.ready.push(line);
    this.schedulePump();
  }

  /** Runs the pump soon (a slot of the process's limit came free). */
  schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
      this.deps.slots.passOn();
    });
  }

  private wakeAt(due: number): void {
    clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => this.schedulePump(), Math.max(0, due - Date.now()));
  }

  /** Starts what may start: heads of ready lines, up to the endpoint's concurrency. */
  private pump(): void {
    const endpoint = this.endpoint;
    if (endpoint === undefined) return;
    const now = Date.now();
    const pausedUntil = this.pausedUntilNow();
    if (pausedUntil > now) {
      this.wakeAt(pausedUntil);
      return;
    }
    const batching = endpoint.batch.maxRecords > 1;
    while (this.inFlight < endpoint.concurrency && this.readyAt < this.ready.length) {
      // The process's own limit on requests in flight, shared by every endpoint: when it is
      // reached, this queue waits its turn and is woken when a request of any endpoint settles.
      if (!this.deps.slots.take(this)) break;
      if (batching) {
        const waiting = this.ready.length - this.readyAt;
        if (waiting < endpoint.batch.maxRecords && endpoint.batch.maxLingerMs > 0) {
          if (this.lingerUntil === 0) this.lingerUntil = now + endpoint.batch.maxLingerMs;
          if (now < this.lingerUntil) {
            this.deps.slots.give();
            this.wakeAt(this.lingerUntil);
            return;
          }
        }
        this.lingerUntil = 0;
        const items = this.takeBatch(endpoint.batch.maxRecords, now);
        if (items.length > 0) this.start(items);
        else this.deps.slots.give();
        continue;
      }
      const line = this.nextLine(now);
      if (line === undefined) {
        this.deps.slots.give();
        break;
      }
      this.start([{ line, entry: line.head as Entry }]);
    }
    this.compact();
  }

  /** The next ready line whose head may go now, taken out of the ready queue. */
  private nextLine(now: number): KeyLine | undefined {
    while (this.readyAt < this.ready.length) {
      const line = this.ready[this.readyAt++] as KeyLine;
      line.queued = false;
      if (line.busy || !line.headDue(now)) {
        this.refresh(line);
        continue;
      }
      if (!this.deps.sendable(line.partition)) continue; // woken again once it is
      return line;
    }
    return undefined;
  }

  /** Up to `max` jobs: each ready line's head and the due jobs right behind it, in key order. */
  private takeBatch(max: number, now: number): Item[] {
    const items: Item[] = [];
    while (items.length < max) {
      const line = this.nextLine(now);
      if (line === undefined) break;
      for (const entry of line.entries) {
        if (items.length >= max || entry.msg === undefined || entry.job.notBefore > now) break;
        items.push({ line, entry });
      }
    }
    return items;
  }

  private compact(): void {
    if (this.readyAt > 1024 && this.readyAt * 2 > this.ready.length) {
      this.ready.splice(0, this.readyAt);
      this.readyAt = 0;
    }
  }

  private start(items: Item[]): void {
    const lines = new Set(items.map((i) => i.line));
    for (const line of lines) line.busy = true;
    const partitions = [...new Set(items.map((i) => i.line.partition))];
    this.inFlight++;
    for (const p of partitions) this.deps.inFlight(p, +1);
    const now = performance.now();
    for (const { entry } of items) if (entry.headAt === Number.POSITIVE_INFINITY) entry.headAt = now;
    void this.send(items)
      .catch((err: unknown) => this.log.error({ err }, "a send failed unexpectedly"))
      .finally(() => {
        this.inFlight--;
        for (const line of lines) {
          line.busy = false;
          if (line.entries.length === 0) this.forget(line);
          else this.refresh(line);
        }
        for (const p of partitions) this.deps.inFlight(p, -1);
        this.deps.slots.give();
        this.schedulePump();
      });
  }

  private async send(items: Item[]): Promise<void> {
    const endpoint = this.endpoint;
    const app = this.app;
    if (endpoint === undefined || app === undefined) return;
    const state = this.state.current()?.state;
    if (state?.state === "disabled") {
      for (const item of items) {
        await this.dead(item, undefined, undefined, `endpoint disabled: ${state.reason}`);
      }
      return;
    }
    // Jobs that cannot be said (an event that does not decode, nothing in this dialect for it) are dead
    // at once; the rest go in one request.
    const sendable: Item[] = [];
    for (const item of items) {
      try {
        item.event = Event.decode(item.entry.job.event);
        checkSays(endpoint, item.event);
        sendable.push(item);
      } catch (err) {
        await this.dead(item, undefined, undefined, ensureError(err).message);
      }
    }
    if (sendable.length === 0) return;
    let request: HttpRequestSpec;
    try {
      request = renderRequest(
        endpoint,
        sendable.map((i) => ({ event: i.event as Event, deliveryId: i.entry.job.deliveryId })),
        new Date(),
      );
    } catch (err) {
      for (const item of sendable) await this.dead(item, undefined, undefined, ensureError(err).message);
      return;
    }
    // The attempt: a client span of the (first) job's trace, its traceparent sent to the business
    // server. A batch's request can carry one trace only: the others' records keep their own ids.
    const first = sendable[0] as Item;
    const { span, ctx } = startSpan(
      `deliver ${first.entry.job.eventType}`,
      first.entry.job.trace ?? NO_TRACE,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "http.request.method": request.method,
          "url.full": request.url,
          "herald.delivery_id": first.entry.job.deliveryId,
          "herald.attempt": first.entry.job.attemptsMade + 1,
          "herald.batch_size": sendable.length,
        },
      },
    );
    first.traceId = traceIdOf(ctx);
    const startedAt = Date.now();
    const result = await this.call(endpoint, app, {
      ...request,
      headers: { ...request.headers, ...traceHeaders(ctx) },
    });
    span.setAttribute("http.response.status_code", result.status);
    endSpan(span, result.ok ? undefined : new Error(result.failure?.detail ?? "no answer"));
    this.watchTimeouts(endpoint, result, Date.now(), startedAt);
    const context: AttemptContext = {
      timeoutsInARow: this.timeoutsInARow,
      refusal:
        result.ok && result.status >= 200 && result.status < 300
          ? dialectOfEndpoint(endpoint).refusal?.(result)
          : undefined,
    };
    let last: Verdict | undefined;
    let delivered = false;
    for (const item of sendable) {
      const verdict = await this.settle(endpoint, item, request, result, context);
      if (verdict?.kind === "delivered") delivered = true;
      last = verdict ?? last;
    }
    if (last !== undefined && last.kind !== "delivered" && !delivered)
      await this.failed(endpoint, last, Date.now());
  }

  private async call(
    endpoint: EndpointConfig,
    app: AppConfig,
    request: HttpRequestSpec,
  ): Promise<AttemptResult> {
    const result = await callBusinessServer(this.deps.agents.forApp(app), request, endpoint.timeoutMs);
    this.deps.metrics.attemptSeconds.observe({ dialect: endpoint.dialect }, result.latencyMs / 1000);
    return { ...result, retryAfterMs: result.headers.retryAfterMs };
  }

  private async settle(
    endpoint: EndpointConfig,
    item: Item,
    request: HttpRequestSpec,
    result: AttemptResult,
    context: AttemptContext,
  ): Promise<Verdict | undefined> {
    const { entry } = item;
    const { job } = entry;
    // The partition went to another deliverer meanwhile: it sends this job again; write nothing.
    if (!this.deps.sendable(entry.partition)) return undefined;
    const now = Date.now();
    const attempt = job.attemptsMade + 1;
    const verdict = judgeAttempt(endpoint, attempt, result, context);
    this.deps.metrics.attempts.inc({ dialect: endpoint.dialect, verdict: verdict.kind });
    const record = this.record(item, request, result);
    switch (verdict.kind) {
      case "delivered":
        publishAttempt(this.deps.bus, { ...record, outcome: "delivered" });
        this.finish(item);
        await this.recovered(now);
        return verdict;
      case "retry":
        publishAttempt(this.deps.bus, { ...record, outcome: "retry", error: verdict.error });
        await this.retry(item, { ...job, attemptsMade: attempt, notBefore: now + verdict.delayMs });
        return verdict;
      case "dead":
        if (!(await this.storeDead(item, record, verdict.error))) return verdict;
        this.finish(item);
        if (verdict.disable !== undefined) await this.disable(verdict.disable, now);
        else await this.exhausted(endpoint, now);
        return verdict;
    }
  }

  /**
   * A job to try again later: a copy with its attempts and time is stored in the same partition
   * (so a crash keeps both), then the original is acknowledged. An ordered job keeps its place at
   * the head of its line, waiting for its copy; an unordered one comes back as a new arrival.
   */
  private async retry(item: Item, next: Job): Promise<void> {
    const { bus } = this.deps;
    const { entry, line } = item;
    const original = entry.msg;
    // Waiting for the copy from now: it may arrive before the stream's answer does.
    entry.msg = undefined;
    entry.job = next;
    try {
      await publishEvent(
        bus,
        bus.names.subjects.job(entry.partition, next.appId, next.endpointId),
        next.event,
        {
          // One copy per message, however often this runs for it.
          msgId: `retry:${original?.seq ?? 0}`,
          headers: jobHeaders(next),
        },
      );
    } catch (err) {
      if (entry.msg === undefined) {
        // Not stored: the job stays here with its original message, and is tried again in time anyway.
        tracedLogger(this.log, next.trace ?? NO_TRACE).warn(
          { err, deliveryId: next.deliveryId },
          "could not store a retry; keeping it in memory",
        );
        entry.msg = original;
        return;
      }
    }
    original?.ack();
    // Unordered: the copy comes back as a job of its own.
    if (line.key === "") this.forget(line);
  }

  /** The head is done (delivered or dead): acknowledged, and the next job of its key becomes the head. */
  private finish({ line, entry }: Item): void {
    entry.msg?.ack();
    if (line.remove(entry)) this.held--;
    const next = line.head;
    if (next !== undefined && next.headAt === Number.POSITIVE_INFINITY) next.headAt = performance.now();
  }

  private record(
    item: Item,
    request: HttpRequestSpec | undefined,
    result: AttemptResult | undefined,
  ): NewAttemptRecord {
    const { entry, event } = item;
    const { job } = entry;
    const endpoint = this.endpoint;
    const ordered = item.line.key !== "";
    let keyWaitMs = 0;
    if (!entry.waitReported) {
      entry.waitReported = true;
      const head = entry.headAt === Number.POSITIVE_INFINITY ? performance.now() : entry.headAt;
      keyWaitMs = Math.max(0, Math.round(head - entry.arrivedAt));
    }
    return {
      kind: "delivery",
      appId: this.appId,
      endpointId: this.endpointId,
      eventId: job.eventId,
      deliveryId: job.deliveryId,
      attempt: job.attemptsMade + 1,
      eventType: job.eventType,
      dialect: endpoint?.dialect ?? "",
      trigger: job.trigger,
      ...(ordered ? { orderingKey: job.key, keyWaitMs } : {}),
      ...traceIdField(item.traceId ?? traceIdOf(job.trace ?? NO_TRACE)),
      operationId: event === undefined || event.operationId === "" ? job.eventId : event.operationId,
      url: request?.url ?? endpoint?.url ?? "",
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
    item: Item,
    request: HttpRequestSpec | undefined,
    result: AttemptResult | undefined,
    error: string,
  ): Promise<void> {
    if (!this.deps.sendable(item.entry.partition)) return;
    this.deps.metrics.attempts.inc({ dialect: this.endpoint?.dialect ?? "", verdict: "dead" });
    if (await this.storeDead(item, this.record(item, request, result), error)) this.finish(item);
  }

  /** The record of a dead job, stored before the job is acknowledged; false (job kept) when it could not be. */
  private async storeDead(item: Item, record: NewAttemptRecord, error: string): Promise<boolean> {
    const { job } = item.entry;
    try {
      await publishAttemptDurably(this.deps.bus, {
        ...record,
        outcome: "dead",
        error,
        event: Buffer.from(job.event).toString("base64"),
      });
      return true;
    } catch (err) {
      this.log.error(
        { err, deliveryId: job.deliveryId },
        "could not store a dead delivery's record; trying again",
      );
      item.entry.job = { ...job, notBefore: Date.now() + DEAD_RECORD_RETRY_MS };
      return false;
    }
  }

  private timeoutWindow(): TimeoutWindow {
    const { count, windowMs } = this.endpoint?.pauseOnTimeouts ?? { count: 1_000_000, windowMs: 1 };
    return new TimeoutWindow(count, windowMs);
  }

  private pausedUntilNow(): number {
    const state = this.state.current()?.state;
    return Math.max(this.pausedUntil, state?.state === "paused" ? Date.parse(state.until ?? "") || 0 : 0);
  }

  // Mass timeouts pause the endpoint; after the pause, the first answer decides: another timeout
  // pauses it again at once, anything else closes the episode.
  private watchTimeouts(
    endpoint: EndpointConfig,
    result: AttemptResult,
    now: number,
    startedAt: number,
  ): void {
    // In a row means one after another: requests in flight together that time out together (one
    // stall) count once, and any answer starts the count again.
    if (isTimeout(result) && startedAt >= this.lastTimeoutAt) {
      this.timeoutsInARow++;
      this.lastTimeoutAt = now;
    } else if (result.ok) {
      this.timeoutsInARow = 0;
    }
    if (isTimeout(result)) {
      const probeFailed = this.probing && now >= this.pausedUntil;
      if (probeFailed || this.timeouts.note(now)) this.pause(endpoint, now);
    } else if (this.probing && now >= this.pausedUntil) {
      this.probing = false;
    }
  }

  private pause(endpoint: EndpointConfig, now: number): void {
    const { count, windowMs, pauseMs } = endpoint.pauseOnTimeouts;
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
      ...(current?.failing === undefined ? {} : { failing: current.failing }),
    });
  }

  private async disable(reason: string, now: number): Promise<void> {
    this.log.warn({ reason }, "endpoint disabled");
    this.deps.metrics.stateChanges.inc({ state: "disabled" });
    await this.state.write({ state: "disabled", reason, since: new Date(now).toISOString() });
  }

  // A success ends a finished pause, stops the failure clock and ends a failing spell (recovered).
  private async recovered(now: number): Promise<void> {
    this.failedInARow = 0;
    const current = this.state.current()?.state;
    if (current === undefined || current.state === "disabled") return;
    const pauseOver = current.state === "paused" && Date.parse(current.until ?? "") <= now;
    const failing = current.failing !== undefined;
    const paused = current.state === "paused" && !pauseOver;
    if (pauseOver || (!paused && (failing || current.failingSince !== undefined))) {
      await this.state.write({
        state: "active",
        reason: "",
        since: current.state === "active" ? current.since : new Date(now).toISOString(),
        ...(failing ? { recovered: new Date(now).toISOString() } : {}),
      });
    }
  }

  // `failingAfterAttempts` requests in a row that failed mark the endpoint failing (once per spell);
  // a delivered one ends the spell (recovered). The mark lives in the endpoint's state, so the
  // operational event is derived once from CONFIG whichever deliverer wrote it.
  private async failed(
    endpoint: EndpointConfig,
    verdict: Exclude<Verdict, { kind: "delivered" }>,
    now: number,
  ) {
    this.failedInARow++;
    const limit = endpoint.failingAfterAttempts;
    if (limit <= 0 || this.failedInARow < limit) return;
    const current = this.state.current()?.state ?? activeState(now);
    if (current.state === "disabled" || current.failing !== undefined) return;
    const { recovered: _ended, ...rest } = current;
    const reason = `${this.failedInARow} attempts in a row failed; the last: ${verdict.error}`;
    this.log.warn({ reason }, "endpoint failing");
    await this.state.write({ ...rest, failing: { since: new Date(now).toISOString(), reason } });
  }

  // Svix's rule for standard endpoints: a first exhausted delivery starts a clock that any success
  // stops; an exhausted delivery after `disableAfterFailingMs` on that clock disables the endpoint.
  private async exhausted(endpoint: EndpointConfig, now: number): Promise<void> {
    const limitMs = endpoint.disableAfterFailingMs;
    if (limitMs <= 0) return;
    const current = this.state.current()?.state ?? activeState(now);
    if (current.failingSince === undefined) {
      await this.state.write({ ...current, failingSince: new Date(now).toISOString() });
    } else if (now - Date.parse(current.failingSince) >= limitMs) {
      await this.disable(`failing since ${current.failingSince} with no success`, now);
    }
  }
}

function activeState(now: number): EndpointState {
  return { state: "active", reason: "", since: new Date(now).toISOString() };
}

function traceIdField(traceId: string): { traceId?: string } {
  return traceId === "" ? {} : { traceId };
}
