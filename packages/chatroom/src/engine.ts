import type { Bus } from "@herald/bus";
import { startProjection } from "@herald/projection";
import type { ProjectionEngine, ProjectionHooks } from "@herald/projection";
import type { Logger } from "@herald/runtime";
import { kicksProjection } from "./kicks.js";
import { listUserRooms } from "./queries.js";
import { roomsProjection } from "./rooms.js";
import type { ChatroomHooks } from "./rooms.js";
import type { ChatroomTimersOf } from "./timers.js";

type KitHooks = ProjectionHooks & { owned?(partitions: number): void };

export interface ChatroomEngineOptions {
  bus: Bus;
  log: Logger;
  /** The timers of each app (auto-kick, abnormal delay, idle destroy), read at each fold and timer. */
  timers: ChatroomTimersOf;
  /** How long a partition's lease lasts without renewal (default 10 s). */
  leaseMs?: number;
  /** Names this replica in leases (default: host, pid, random). */
  instanceId?: string;
  /** Events folded into one written batch at most (default 1000). */
  maxBatch?: number;
  hooks?: ChatroomHooks;
  /** The kit's hooks of each projection (projectionMetrics per name). */
  projectionHooks?: { rooms?: KitHooks; kicks?: KitHooks };
}

export interface ChatroomEngine {
  readonly rooms: ProjectionEngine;
  readonly kicks: ProjectionEngine;
  /** Resolves once every partition owned now has been loaded. */
  ready(): Promise<void>;
  /** Writes what each partition gathered and gives the partitions of both projections up. */
  stop(): Promise<void>;
  /** The app's chatroom settings changed: what already waits (kicks, idle destroys) moves with them. */
  retime(appId: string): void;
}

/**
 * Runs the chatroom in this process: the rooms projection (room lane, by room) and the kicks
 * projection (user lane, by user; always, since any app may turn auto-kick on), each over its fair
 * share of the partitions. Both keep their keys in the ROOMS bucket.
 */
export async function startChatroom(opts: ChatroomEngineOptions): Promise<ChatroomEngine> {
  const { bus, timers } = opts;
  const bucket = bus.names.buckets.rooms;
  const hooks = opts.hooks === undefined ? {} : { hooks: opts.hooks };
  const kitOptions = (kit: KitHooks | undefined) => ({
    bus,
    log: opts.log,
    ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
    ...(opts.instanceId === undefined ? {} : { instanceId: opts.instanceId }),
    ...(opts.maxBatch === undefined ? {} : { maxBatch: opts.maxBatch }),
    ...(kit === undefined ? {} : { hooks: kit }),
  });
  const rooms = await startProjection(
    roomsProjection({ bucket, timers, ...hooks }),
    kitOptions(opts.projectionHooks?.rooms),
  );
  const kicks = await startProjection(
    kicksProjection({
      bucket,
      timers,
      userRooms: (appId, userId) => listUserRooms(bus, appId, userId),
      ...hooks,
    }),
    kitOptions(opts.projectionHooks?.kicks),
  );
  return {
    rooms,
    kicks,
    async ready() {
      await Promise.all([rooms.ready(), kicks.ready()]);
    },
    retime(appId) {
      rooms.retime(appId);
      kicks.retime(appId);
    },
    async stop() {
      await Promise.all([rooms.stop(), kicks.stop()]);
    },
  };
}
