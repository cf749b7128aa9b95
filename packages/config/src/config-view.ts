import { setTimeout as sleep } from "node:timers/promises";
import type { Bus } from "@herald/bus";
import type { Logger } from "@herald/runtime";
import { validateAppConfig } from "./app-config.js";
import type { AppConfig } from "./app-config.js";
import { ENDPOINT_STATE_KEY_PREFIX, parseEndpointStateKey, validateEndpointState } from "./endpoint-state.js";
import type { EndpointStateEntry } from "./endpoint-state.js";
import { APP_KEY_PREFIX, configBucket, readApp } from "./store.js";
import type { ConfigBucket } from "./store.js";

/** An in-memory view of the apps and endpoint states in CONFIG, kept current by a KV watch. */
export interface ConfigView {
  app(appId: string): AppConfig | undefined;
  /**
   * The app as this view holds it when `enough(app)` (default: the view has it at all); otherwise as
   * CONFIG holds it now, read from the bucket: a watch lags a moment behind a write, so a view that
   * lacks the app, or the change asked for, may only be behind. No round trip when the view's copy will do.
   */
  appNow(appId: string, enough?: (app: AppConfig) => boolean): Promise<AppConfig | undefined>;
  apps(): AppConfig[];
  /** `app` is undefined when the app was deleted. Returns a function that removes the listener. */
  onChange(listener: (appId: string, app: AppConfig | undefined) => void): () => void;
  /** The endpoint's state as the deliverer last wrote it; undefined (active) if none. */
  endpointState(appId: string, endpointId: string): EndpointStateEntry | undefined;
  /** `entry` is undefined when the state was deleted. Returns a function that removes the listener. */
  onEndpointStateChange(
    listener: (appId: string, endpointId: string, entry: EndpointStateEntry | undefined) => void,
  ): () => void;
  /** The highest CONFIG revision applied so far: a write at or below it is in this view. */
  revision(): number;
  /**
   * Resolves once this view holds every CONFIG write made before the call (true), or after
   * `timeoutMs` without (false): so an event stored after its app was written is routed with it.
   */
  caughtUp(timeoutMs: number): Promise<boolean>;
  /** Resolves once the initial values are loaded. */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

type Watcher = Awaited<ReturnType<ConfigBucket["watch"]>>;
type WatchEntry = Watcher extends AsyncIterable<infer E> ? E : never;
type Entry = Pick<WatchEntry, "key" | "revision" | "operation" | "string">;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type StateListener = (appId: string, endpointId: string, entry: EndpointStateEntry | undefined) => void;

// All of CONFIG, dispatched by prefix in apply(): a watch of several filters needs NATS 2.10.
const WATCHED_KEYS = ">";

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

/** Loads every app from CONFIG, then follows changes; resolves after the initial load. */
export async function watchConfig(bus: Bus, log: Logger): Promise<ConfigView> {
  const view = new WatchedConfigView(bus, log.child({ component: "config-view" }));
  try {
    await view.ready;
  } catch (err) {
    await view.close();
    throw err;
  }
  return view;
}

class WatchedConfigView implements ConfigView {
  readonly ready: Promise<void>;
  private readonly current = new Map<string, AppConfig>();
  // Last revision applied per key, deletes and refused values included, so a stale read never wins.
  private readonly revisions = new Map<string, number>();
  private highest = 0;
  private readonly revisionWaiters = new Set<() => void>();
  private readonly listeners = new Set<(appId: string, app: AppConfig | undefined) => void>();
  // Keyed by the CONFIG key, `endpoints.<appId>.<endpointId>`.
  private readonly states = new Map<string, EndpointStateEntry>();
  private readonly stateListeners = new Set<StateListener>();
  private readonly stopping = new AbortController();
  private watcher: Watcher | undefined;
  private readonly watching: Promise<void>;
  private readonly following: Promise<void>;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    const watchStarted = deferred();
    this.watching = this.watchLoop(watchStarted);
    this.following = this.followReconnects();
    this.ready = watchStarted.promise.then(() => this.loadSnapshot());
  }

  app(appId: string): AppConfig | undefined {
    return this.current.get(appId);
  }

  async appNow(
    appId: string,
    enough: (app: AppConfig) => boolean = () => true,
  ): Promise<AppConfig | undefined> {
    const known = this.current.get(appId);
    if (known !== undefined && enough(known)) return known;
    return readApp(this.bus, appId);
  }

  apps(): AppConfig[] {
    return [...this.current.values()];
  }

  revision(): number {
    return this.highest;
  }

  async caughtUp(timeoutMs: number): Promise<boolean> {
    const jsm = await this.bus.jsm();
    const target = (await jsm.streams.info(`KV_${this.bus.names.buckets.config}`)).state.last_seq;
    if (this.highest >= target) return true;
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (this.highest < target) return;
        done(true);
      };
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.revisionWaiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.revisionWaiters.add(check);
    });
  }

  onChange(listener: (appId: string, app: AppConfig | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  endpointState(appId: string, endpointId: string): EndpointStateEntry | undefined {
    return this.states.get(`${ENDPOINT_STATE_KEY_PREFIX}${appId}.${endpointId}`);
  }

  onEndpointStateChange(listener: StateListener): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (!this.stopping.signal.aborted) {
      this.stopping.abort();
      this.watcher?.stop();
    }
    this.listeners.clear();
    this.stateListeners.clear();
    await Promise.all([this.watching, this.following]);
  }

  // The watch's ordered consumer can end for good (e.g. the server lost it in a restart), so re-create it.
  private async watchLoop(started: Deferred): Promise<void> {
    // A closed connection never comes back (bus.drain() was called), so stop with it.
    for (let failures = 0; !this.stopping.signal.aborted && !this.bus.nc.isClosed();) {
      try {
        const kv = await configBucket(this.bus);
        const watcher = await kv.watch({ key: WATCHED_KEYS });
        this.watcher = watcher;
        if (this.stopping.signal.aborted) watcher.stop();
        started.resolve();
        failures = 0;
        for await (const entry of watcher) this.apply(entry);
        if (!this.stopping.signal.aborted) this.log.warn("CONFIG watch ended; re-creating it");
      } catch (err) {
        if (this.stopping.signal.aborted) break;
        started.reject(err); // only the first failure reaches watchConfig's caller; later ones are retried
        failures++;
        this.log.warn({ err, failures }, "CONFIG watch failed; retrying");
      }
      const pauseMs = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 10));
      await sleep(failures === 0 ? 0 : pauseMs, undefined, { signal: this.stopping.signal }).catch(
        () => undefined,
      );
    }
  }

  // After a reconnect, restart the watch at once rather than wait for its missed heartbeats.
  private async followReconnects(): Promise<void> {
    const statuses = this.bus.nc.status();
    // nats.js returns a QueuedIterator, whose stop() ends the loop below; the declared type hides it.
    const stop = (): void => {
      if (isStoppable(statuses)) statuses.stop();
    };
    this.stopping.signal.addEventListener("abort", stop, { once: true });
    for await (const status of statuses) {
      if (this.stopping.signal.aborted) return;
      if (status.type === "reconnect") {
        this.log.info("NATS reconnected; re-creating the CONFIG watch");
        this.watcher?.stop();
      }
    }
  }

  // The watch delivers the same values, but only a direct read says when the initial load is complete.
  private async loadSnapshot(): Promise<void> {
    const kv = await configBucket(this.bus);
    const keys: string[] = [];
    for await (const key of await kv.keys(WATCHED_KEYS)) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry !== null) this.apply(entry);
    }
  }

  private apply(entry: Entry): void {
    if (entry.revision > this.highest) {
      this.highest = entry.revision;
      for (const waiter of [...this.revisionWaiters]) waiter();
    }
    const isApp = entry.key.startsWith(APP_KEY_PREFIX);
    if (!isApp && !entry.key.startsWith(ENDPOINT_STATE_KEY_PREFIX)) return;
    if (entry.revision <= (this.revisions.get(entry.key) ?? 0)) return;
    this.revisions.set(entry.key, entry.revision);
    if (isApp) this.applyApp(entry);
    else this.applyEndpointState(entry);
  }

  private applyApp(entry: Entry): void {
    const appId = entry.key.slice(APP_KEY_PREFIX.length);
    if (entry.operation !== "PUT") {
      if (this.current.delete(appId)) this.notify(appId, undefined);
      return;
    }
    let app: AppConfig;
    try {
      app = validateAppConfig(JSON.parse(entry.string()), entry.key);
      if (app.appId !== appId)
        throw new Error(`appId ${JSON.stringify(app.appId)} stored under ${entry.key}`);
    } catch (err) {
      const path = (err as { path?: unknown }).path;
      this.log.error(
        { err, appId, path, revision: entry.revision },
        "invalid app config in CONFIG ignored; keeping the previous value",
      );
      return;
    }
    this.current.set(appId, app);
    this.notify(appId, app);
  }

  private applyEndpointState(entry: Entry): void {
    const ids = parseEndpointStateKey(entry.key);
    if (ids === undefined) {
      this.log.error(
        { key: entry.key, revision: entry.revision },
        "CONFIG key is not endpoints.<app>.<endpoint>; ignored",
      );
      return;
    }
    if (entry.operation !== "PUT") {
      if (this.states.delete(entry.key)) this.notifyState(ids.appId, ids.endpointId, undefined);
      return;
    }
    let state: EndpointStateEntry;
    try {
      state = {
        state: validateEndpointState(JSON.parse(entry.string()), entry.key),
        revision: entry.revision,
      };
    } catch (err) {
      const path = (err as { path?: unknown }).path;
      this.log.error(
        { err, ...ids, path, revision: entry.revision },
        "invalid endpoint state in CONFIG ignored; keeping the previous value",
      );
      return;
    }
    this.states.set(entry.key, state);
    this.notifyState(ids.appId, ids.endpointId, state);
  }

  private notifyState(appId: string, endpointId: string, entry: EndpointStateEntry | undefined): void {
    for (const listener of this.stateListeners) {
      try {
        listener(appId, endpointId, entry);
      } catch (err) {
        this.log.error({ err, appId, endpointId }, "endpoint state listener threw");
      }
    }
  }

  private notify(appId: string, app: AppConfig | undefined): void {
    for (const listener of this.listeners) {
      try {
        listener(appId, app);
      } catch (err) {
        this.log.error({ err, appId }, "config change listener threw");
      }
    }
  }
}

function isStoppable(value: object): value is { stop(): void } {
  return "stop" in value && typeof value.stop === "function";
}
