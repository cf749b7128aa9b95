// Folds room events into rooms and memberships, derives RongCloud status records, and makes the
// automatic changes (auto-kick of offline members, auto-destroy of empty rooms).
import { z } from "zod";
import { baseEnvSchema, runService } from "@herald/runtime";
import { startBus } from "@herald/bus";
import { startChatroom } from "@herald/chatroom";
import { createChatroomMetrics } from "./metrics.js";

const schema = baseEnvSchema.extend({
  // A member offline this long leaves with status 1 (0: off).
  CHATROOM_KICK_AFTER_MS: z.coerce.number().int().min(0).default(0),
  // Added to the kick after an abnormal disconnect; RongCloud delays such syncs by 5 minutes.
  CHATROOM_ABNORMAL_DELAY_MS: z.coerce.number().int().min(0).default(300_000),
  // An empty room is destroyed with status 3 after this long (0: off).
  CHATROOM_IDLE_DESTROY_MS: z.coerce.number().int().min(0).default(0),
  CHATROOM_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(64),
  CHATROOM_SWEEP_MS: z.coerce.number().int().min(10).optional(),
  // How soon the events a killed replica held are redelivered to another.
  CHATROOM_ACK_WAIT_MS: z.coerce.number().int().min(1000).default(30_000),
});

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
