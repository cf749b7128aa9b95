import { OfflineReason, type Event } from "@herald/proto";
import { occurredAtMs } from "../openim/presence-event.js";

/** One entry of RongCloud's user online status callback (docs.rongcloud.io platform-chat-api/user/onlinestatus). */
export interface RongCloudPresenceRecord {
  userid: string;
  /** "0" online (connected), "1" offline (connection dropped), "2" logged out. */
  status: string;
  /** iOS, Android, HarmonyOS, Websocket, PC or MiniProgram. */
  os: string;
  /** Epoch milliseconds. */
  time: number;
  /** RongCloud sends IP and port; Herald sends what the chat core reported, "" on offline. */
  clientIp: string;
  /** The connection that changed: RongCloud's per-device handle. */
  sessionId: string;
}

export const RONGCLOUD_STATUS = Object.freeze({ online: "0", offline: "1", logout: "2" } as const);

// OpenIM platform ids (the proto's vocabulary) to RongCloud's os names; 10 (Admin) has no RongCloud os.
const OS_BY_PLATFORM_ID: ReadonlyMap<number, string> = new Map([
  [1, "iOS"],
  [2, "Android"],
  [3, "PC"],
  [4, "PC"],
  [5, "Websocket"],
  [6, "MiniProgram"],
  [7, "PC"],
  [8, "Android"],
  [9, "iOS"],
]);

/**
 * The record for user.online and user.offline (a logout is "2", any other reason "1"). Other events render
 * nothing: RongCloud has no background status, and a node reset arrives as one user.offline per user.
 */
export function rongCloudPresenceRecord(event: Event): RongCloudPresenceRecord | undefined {
  const payload = event.payload;
  if (payload?.$case === "userOnline") {
    const online = payload.value;
    return {
      userid: online.userId,
      status: RONGCLOUD_STATUS.online,
      os: rongCloudOs(online.platformId, online.platform),
      time: occurredAtMs(event),
      clientIp: online.clientIp,
      sessionId: online.connId,
    };
  }
  if (payload?.$case === "userOffline") {
    const offline = payload.value;
    const loggedOut = offline.reason === OfflineReason.OFFLINE_REASON_LOGOUT;
    return {
      userid: offline.userId,
      status: loggedOut ? RONGCLOUD_STATUS.logout : RONGCLOUD_STATUS.offline,
      os: rongCloudOs(offline.platformId, offline.platform),
      time: occurredAtMs(event),
      clientIp: "",
      sessionId: offline.connId,
    };
  }
  return undefined;
}

/** RongCloud's os for an OpenIM platform id; an unknown id passes the chat core's platform name through. */
export function rongCloudOs(platformId: number, platform: string): string {
  return OS_BY_PLATFORM_ID.get(platformId) ?? platform;
}
