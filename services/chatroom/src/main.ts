// Folds room events into rooms and memberships, derives RongCloud status records, and makes the
// automatic changes (auto-kick of offline members, auto-destroy of empty rooms).
import { runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { appSettingsOf, onAppSettingsChange, watchConfig } from "@herald/config";
import { projectionMetrics } from "@herald/projection";
import { KICKS_PROJECTION, ROOMS_PROJECTION, startChatroom } from "@herald/chatroom";
import { createChatroomMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "chatroom",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-chatroom", log });
    // Each app's chatroom block, over the environment's defaults (loaded before the first fold).
    const view = await watchConfig(bus, log);
    const engine = await startChatroom({
      bus,
      log,
      timers: appSettingsOf(view, "chatroom", {
        kickAfterMs: config.CHATROOM_KICK_AFTER_MS,
        abnormalDelayMs: config.CHATROOM_ABNORMAL_DELAY_MS,
        idleDestroyMs: config.CHATROOM_IDLE_DESTROY_MS,
      }),
      leaseMs: config.PROJECTION_LEASE_MS,
      maxBatch: config.PROJECTION_BATCH,
      hooks: createChatroomMetrics(registry, { configRevision: () => view.revision() }),
      projectionHooks: {
        rooms: projectionMetrics(registry, ROOMS_PROJECTION),
        kicks: projectionMetrics(registry, KICKS_PROJECTION),
      },
    });
    // A changed kick or idle time also moves the kicks and destroys that already wait.
    const stopRetiming = onAppSettingsChange(view, "chatroom", (appId) => engine.retime(appId));
    return {
      checks: {
        nats: () => bus.isConnected(),
      },
      shutdown: [
        {
          name: "chatroom partitions",
          run: async () => {
            stopRetiming();
            await engine.stop();
          },
        },
        { name: "config watch", run: () => view.close() },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});
