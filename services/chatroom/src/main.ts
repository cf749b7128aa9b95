// Folds room events into rooms and memberships, derives RongCloud status records, and makes the
// automatic changes (auto-kick of offline members, auto-destroy of empty rooms).
import { runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { startChatroom } from "@herald/chatroom";
import { createChatroomMetrics } from "./metrics.js";
import { schema } from "./config.js";

await runService({
  name: "chatroom",
  schema,
  async start({ config, log, registry }) {
    const bus = await startBus({ config, name: "herald-chatroom", log });
    const engine = startChatroom({
      bus,
      log,
      timers: {
        kickAfterMs: config.CHATROOM_KICK_AFTER_MS,
        abnormalDelayMs: config.CHATROOM_ABNORMAL_DELAY_MS,
        idleDestroyMs: config.CHATROOM_IDLE_DESTROY_MS,
      },
      concurrency: config.CHATROOM_CONCURRENCY,
      ackWaitMs: config.CHATROOM_ACK_WAIT_MS,
      ...(config.CHATROOM_SWEEP_MS === undefined ? {} : { sweepMs: config.CHATROOM_SWEEP_MS }),
      hooks: createChatroomMetrics(registry),
    });
    return {
      checks: {
        nats: () => bus.isConnected(),
        consumers: () => engine.consumers.every((c) => c.state === "running"),
      },
      shutdown: [
        { name: "chatroom consumers", run: (signal) => engine.stop(signal) },
        { name: "nats drain", run: () => bus.drain() },
      ],
    };
  },
});
