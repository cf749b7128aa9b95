import type { Logger } from "@herald/runtime";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { busNames } from "./names.js";
import type { BusNames } from "./names.js";
import { sleep } from "./sleep.js";
import { EventsLayout } from "./partitions.js";

export interface BusOptions {
  servers: string;
  name: string;
  log: Logger;
  namespace?: string;
  /** Reconnect attempts after a lost connection; -1 (default) retries forever. */
  maxReconnectAttempts?: number;
  /** How long start-up keeps trying to reach NATS before failing (default 30 s). */
  connectTimeoutMs?: number;
}

export interface Bus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly names: BusNames;
  readonly log: Logger;
  /** How EVENTS is partitioned; known once the topology is applied (startBus, applyTopology). */
  readonly layout: EventsLayout;
  /** The JetStream manager, created once. */
  jsm(): Promise<JetStreamManager>;
  /** An opened KV bucket, cached per bucket; the bucket must exist (see applyTopology). */
  kv(bucket: string): Promise<KV>;
  /** False while disconnected, reconnecting or closed. */
  isConnected(): boolean;
  /** Idempotent: drains subscriptions, then closes. */
  drain(): Promise<void>;
  closed(): Promise<void>;
}

/** NATS never answered within `connectTimeoutMs` at start-up. */
export class BusConnectError extends Error {
  override readonly name = "BusConnectError";
  constructor(
    readonly servers: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`could not connect to NATS at ${servers} after ${attempts} attempts`, options);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
const ATTEMPT_TIMEOUT_MS = 5_000;
const RETRY_PAUSE_MS = 1_000;

/** Connects (retrying until `connectTimeoutMs`), then reconnects on its own for the life of the process. */
export async function connectBus(opts: BusOptions): Promise<Bus> {
  const names = busNames(opts.namespace);
  const log = opts.log.child({ component: "bus" });
  const nc = await connectWithRetry(opts, log);
  return openBus(nc, names, log);
}

async function connectWithRetry(opts: BusOptions, log: Logger): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    try {
      const nc = await connect({
        // nats.js reads one string as one server: a list must be split, or only its last entry is tried.
        servers: serverList(opts.servers),
        name: opts.name,
        maxReconnectAttempts: opts.maxReconnectAttempts ?? -1,
        // An async stack trace per request (an Error built eagerly) cost a third of the CPU of
        // the KV- and publish-heavy services; errors keep their own stacks.
        noAsyncTraces: true,
        timeout: Math.max(100, Math.min(ATTEMPT_TIMEOUT_MS, remaining)),
      });
      log.info({ servers: opts.servers, server: nc.getServer(), attempt }, "connected to NATS");
      return nc;
    } catch (err) {
      lastError = err;
      const left = deadline - Date.now();
      if (left <= 0) throw new BusConnectError(opts.servers, attempt, { cause: lastError });
      log.warn({ err, servers: opts.servers, attempt }, "NATS not reachable yet, retrying");
      await sleep(Math.min(RETRY_PAUSE_MS, left));
    }
  }
}

function openBus(nc: NatsConnection, names: BusNames, log: Logger): Bus {
  let connected = true;
  let jsmPromise: Promise<JetStreamManager> | undefined;
  const buckets = new Map<string, Promise<KV>>();
  let draining: Promise<void> | undefined;

  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case "disconnect":
          connected = false;
          log.warn({ server: s.server }, "NATS disconnected");
          break;
        case "reconnecting":
          connected = false;
          log.debug("NATS reconnecting");
          break;
        case "reconnect":
          connected = true;
          log.info({ server: s.server }, "NATS reconnected");
          break;
        case "error":
          log.error({ err: s.error }, "NATS connection error");
          break;
        case "ldm":
          log.warn({ server: s.server }, "NATS server entering lame duck mode");
          break;
        case "staleConnection":
          log.warn("NATS connection stale");
          break;
        case "slowConsumer":
          log.warn({ subject: s.sub.getSubject(), pending: s.pending }, "NATS slow consumer");
          break;
        case "close":
          connected = false;
          break;
        default:
          break;
      }
    }
  })();
  void nc.closed().then((err) => {
    connected = false;
    if (err) log.error({ err }, "NATS connection closed with error");
    else log.info("NATS connection closed");
  });

  const js = jetstream(nc);
  return {
    nc,
    js,
    names,
    log,
    layout: new EventsLayout(),
    jsm() {
      jsmPromise ??= jetstreamManager(nc).catch((err: unknown) => {
        jsmPromise = undefined; // a failed attempt must not be cached
        throw err;
      });
      return jsmPromise;
    },
    kv(bucket) {
      let kv = buckets.get(bucket);
      if (kv === undefined) {
        kv = new Kvm(js).open(bucket).catch((err: unknown) => {
          buckets.delete(bucket);
          throw err;
        });
        buckets.set(bucket, kv);
      }
      return kv;
    },
    isConnected: () => connected && !nc.isClosed(),
    drain() {
      draining ??= nc.isClosed() ? Promise.resolve() : nc.drain();
      return draining;
    },
    async closed() {
      await nc.closed();
    },
  };
}

/** NATS_URL as servers: comma-separated, blanks ignored ("nats://a:4222, nats://b:4222"). */
export function serverList(servers: string): string[] {
  return servers
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** The largest message the connected NATS server takes (its max_payload): the one size limit Herald can carry. */
export function messageLimitBytes(bus: Bus): number {
  return bus.nc.info?.max_payload ?? 1024 * 1024;
}
