import { appScopedMsgId, storeEvent } from "@herald/bus";
import type { Bus } from "@herald/bus";
import { ENDPOINT_STATE_KEY_PREFIX, parseEndpointStateKey, validateEndpointState } from "@herald/config";
import type { ConfigView, EndpointState } from "@herald/config";
import { readCheckpoint, writeCheckpoint } from "@herald/projection";
import type { LeaseView } from "@herald/projection";
import { Event, OPERATIONAL_CASE_BY_KIND, eventType } from "@herald/proto";
import type { OperationalKind } from "@herald/proto";
import type { Logger } from "@herald/runtime";
import type { DelivererMetrics } from "./metrics.js";
import { PartitionLoop } from "./partition-loop.js";
import { endpointsOf } from "./routes.js";

/** Names the checkpoint (ckpt.operational.0) in the DELIVERY bucket. */
export const OPERATIONAL_NAME = "operational";
/** The deliverer that owns this partition derives the operational events: one at a time, fenced by its lease. */
export const OPERATIONAL_PARTITION = 0;
// An app written just before its endpoint's state is read with it (is the endpoint operational?).
const CONFIG_WAIT_MS = 2_000;

/** One operational event an endpoint state's change makes. */
export interface OperationalChange {
  kind: OperationalKind;
  /** When it happened (ISO). */
  at: string;
  reason: string;
}

/**
 * What a change of an endpoint's state (`before` → `after`, undefined: no state, i.e. active) means
 * for an operator, in order: it entered another state (disabled, paused, or enabled when it is active
 * again), or a new pause began; and it started failing (`failing` set), or recovered (`recovered`
 * set by a delivered attempt). A second disable of a disabled endpoint is no change.
 */
export function operationalChanges(
  before: EndpointState | undefined,
  after: EndpointState | undefined,
  now: Date,
): OperationalChange[] {
  const was = before?.state ?? "active";
  const is = after?.state ?? "active";
  const since = after?.since ?? now.toISOString();
  const out: OperationalChange[] = [];
  if (is !== was) {
    out.push({ kind: is === "active" ? "enabled" : is, at: since, reason: after?.reason ?? "" });
  } else if (is === "paused" && after?.since !== before?.since) {
    out.push({ kind: "paused", at: since, reason: after?.reason ?? "" });
  }
  if (after?.failing !== undefined && after.failing.since !== before?.failing?.since) {
    out.push({ kind: "failing", at: after.failing.since, reason: after.failing.reason });
  }
  if (after?.recovered !== undefined && after.recovered !== before?.recovered) {
    out.push({ kind: "recovered", at: after.recovered, reason: "" });
  }
  return out;
}

/** The event of one change: its id (`endpoint.<kind>:<revision>`) is the same however often it is derived. */
export function operationalEvent(
  appId: string,
  endpointId: string,
  change: OperationalChange,
  states: { before: EndpointState | undefined; after: EndpointState | undefined },
  revision: number,
): Event {
  const until = states.after?.until;
  const event = Event.fromPartial({
    id: `endpoint.${change.kind}:${revision}`,
    appId,
    occurredAt: new Date(change.at),
    operationId: `endpoint.${change.kind}:${revision}`,
    payload: {
      $case: OPERATIONAL_CASE_BY_KIND[change.kind],
      value: {
        endpointId,
        state: states.after?.state ?? "active",
        previousState: states.before?.state ?? "active",
        reason: change.reason,
        since: new Date(change.at),
        ...(until === undefined ? {} : { until: new Date(until) }),
        revision,
      },
    } as Event["payload"],
  });
  return { ...event, type: eventType(event) };
}

export interface OperationalOptions {
  bus: Bus;
  /** The DELIVERY bucket, which holds the checkpoint. */
  kv: Awaited<ReturnType<Bus["kv"]>>;
  view: ConfigView;
  log: Logger;
  metrics: DelivererMetrics;
  instanceId: string;
  lease: LeaseView;
}

/**
 * Derives the operational events from CONFIG, the one place every endpoint state change is written
 * (by any deliverer, or the admin API): it follows the endpoint state keys' history in revision order
 * and stores each change's events in EVENTS (lane ops) before moving its checkpoint past that
 * revision. So a change is reported even if its writer died right after writing it, and a change
 * derived twice (a crash before the checkpoint moved, a takeover) is stored once (Nats-Msg-Id of app
 * and event id, within EVENTS' dedup window). Routing then delivers them to the operational endpoints
 * as any event: signed, retried, logged, replayable. Changes of an operational endpoint itself are
 * only logged and counted, so its own failures never loop.
 */
export class OperationalEvents extends PartitionLoop {
  private watcher: { stop(): void } | undefined;

  constructor(private readonly opts: OperationalOptions) {
    super({ ...opts, partition: OPERATIONAL_PARTITION, failed: "operational events failed; reading again" });
  }

  override async stop(): Promise<void> {
    this.stopping = true;
    this.watcher?.stop();
    await super.stop();
  }

  protected async round(): Promise<void> {
    const { bus, kv, lease, log } = this.opts;
    const read = await readCheckpoint(kv, OPERATIONAL_NAME, OPERATIONAL_PARTITION);
    let through = read.checkpoint.through;
    // Written at once: it fences a previous owner now.
    let revision = await this.checkpoint(through, read.revision);
    const config = await bus.kv(bus.names.buckets.config);
    // The whole retained history: revisions up to the checkpoint only tell each key's state before.
    const watcher = await config.watch({ key: `${ENDPOINT_STATE_KEY_PREFIX}>`, include: "history" });
    this.watcher = watcher;
    if (this.stopping) watcher.stop();
    const last = new Map<string, EndpointState | undefined>();
    for await (const entry of watcher) {
      if (this.stopping || !lease.valid()) break;
      const address = parseEndpointStateKey(entry.key);
      if (address === undefined) continue;
      let after: EndpointState | undefined;
      if (entry.operation === "PUT" && entry.length > 0) {
        try {
          after = validateEndpointState(entry.json(), entry.key);
        } catch (err) {
          log.error(
            { err, key: entry.key, revision: entry.revision },
            "endpoint state does not read; skipped",
          );
          continue;
        }
      }
      const before = last.get(entry.key);
      last.set(entry.key, after);
      if (entry.revision <= through) continue;
      await this.report(address.appId, address.endpointId, { before, after }, entry.revision);
      through = entry.revision;
      revision = await this.checkpoint(through, revision);
    }
    watcher.stop();
  }

  private async report(
    appId: string,
    endpointId: string,
    states: { before: EndpointState | undefined; after: EndpointState | undefined },
    revision: number,
  ): Promise<void> {
    const { bus, view, log, metrics } = this.opts;
    const changes = operationalChanges(states.before, states.after, new Date());
    if (changes.length === 0) return;
    await view.caughtUp(CONFIG_WAIT_MS);
    const app = view.app(appId);
    const endpoint = app === undefined ? undefined : endpointsOf(app).find((e) => e.id === endpointId);
    // A deleted endpoint's state is deleted with it: that reads as "enabled", and is news to no one.
    if (endpoint === undefined) {
      log.info(
        { appId, endpointId, revision },
        "state change of an endpoint no longer configured; not reported",
      );
      return;
    }
    const operational = endpoint.operational;
    for (const change of changes) {
      const event = operationalEvent(appId, endpointId, change, states, revision);
      const fields = {
        appId,
        endpointId,
        kind: change.kind,
        state: states.after?.state ?? "active",
        previousState: states.before?.state ?? "active",
        reason: change.reason,
        revision,
        eventId: event.id,
      };
      if (operational) {
        log.warn(fields, "operational endpoint changed; no operational event is sent about it");
      } else {
        await storeEvent(bus, event, { msgId: appScopedMsgId(appId, event.id) });
        log.info(fields, `operational event endpoint.${change.kind}`);
      }
      metrics.operationalEvents.inc({ app: appId, endpoint: endpointId, kind: change.kind });
    }
  }

  private checkpoint(through: number, revision: number): Promise<number> {
    const { kv, instanceId } = this.opts;
    return writeCheckpoint(
      kv,
      OPERATIONAL_NAME,
      OPERATIONAL_PARTITION,
      { through, owner: instanceId },
      revision,
    );
  }
}
