import { KeyedQueue } from "@herald/bus";
import type { AppConfig, EndpointConfig } from "@herald/config";
import { consumerName, EndpointSender } from "./sender.js";
import type { SenderDeps } from "./sender.js";
import { endpointsOf } from "./routes.js";

export interface Fleet {
  /** Endpoints being sent to now. */
  size(): number;
  stop(signal?: AbortSignal): Promise<void>;
}

/**
 * Keeps one EndpointSender per configured endpoint, following CONFIG: a new endpoint starts sending, a
 * changed one is restarted with its new settings, a removed one stops and its waiting jobs are purged
 * (nothing could deliver them). Changes to one app are applied in order; apps do not wait for each other.
 */
export function startFleet(deps: SenderDeps): Fleet {
  const senders = new Map<string, { sender: EndpointSender; fingerprint: string }>();
  const queue = new KeyedQueue();
  const log = deps.log.child({ component: "fleet" });
  let stopping = false;

  const reconcile = async (appId: string): Promise<void> => {
    if (stopping) return;
    const app = deps.view.app(appId);
    const wanted = new Map((app === undefined ? [] : endpointsOf(app)).map((e) => [e.id, e]));
    for (const [key, running] of senders) {
      if (running.sender.appId !== appId) continue;
      const endpoint = wanted.get(running.sender.endpoint.id);
      if (endpoint !== undefined && fingerprint(app, endpoint) === running.fingerprint) {
        if (app !== undefined) running.sender.updateApp(app);
        wanted.delete(endpoint.id);
        continue;
      }
      senders.delete(key);
      await running.sender.stop();
      if (endpoint === undefined) await removeEndpoint(appId, running.sender.endpoint.id);
    }
    if (app === undefined) return;
    for (const endpoint of wanted.values()) {
      const sender = new EndpointSender(deps, appId, endpoint, app);
      senders.set(`${appId}/${endpoint.id}`, { sender, fingerprint: fingerprint(app, endpoint) });
      sender.start();
      log.info({ appId, endpointId: endpoint.id, dialect: endpoint.dialect }, "sending to endpoint");
    }
  };

  // Jobs of a deleted endpoint can never be sent: drop its consumers and its backlog.
  const removeEndpoint = async (appId: string, endpointId: string): Promise<void> => {
    const { bus } = deps;
    try {
      const jsm = await bus.jsm();
      const stream = bus.names.streams.deliveries;
      for (const lane of ["fresh", "retry"] as const) {
        await jsm.consumers.delete(stream, consumerName(lane, appId, endpointId)).catch(() => false);
      }
      for (const filter of [
        bus.names.subjects.delivery(appId, endpointId),
        bus.names.subjects.deliveryRetry(appId, endpointId),
      ]) {
        await jsm.streams.purge(stream, { filter });
      }
      log.info({ appId, endpointId }, "endpoint removed; its waiting jobs purged");
    } catch (err) {
      log.error({ err, appId, endpointId }, "could not clean up a removed endpoint");
    }
  };

  const schedule = (appId: string): void => {
    void queue
      .run(appId, () => reconcile(appId))
      .catch((err: unknown) => {
        log.error({ err, appId }, "could not apply the app's endpoints");
      });
  };
  const unsubscribe = deps.view.onChange((appId) => schedule(appId));
  for (const app of deps.view.apps()) schedule(app.appId);

  return {
    size: () => senders.size,
    async stop(signal) {
      stopping = true;
      unsubscribe();
      await Promise.all([...senders.values()].map(({ sender }) => sender.stop(signal)));
      senders.clear();
    },
  };
}

// What a sender is built from: its endpoint and the app-wide egress rule.
function fingerprint(app: AppConfig | undefined, endpoint: EndpointConfig): string {
  return JSON.stringify([endpoint, app?.allowPrivateDestinations ?? false]);
}
