import { describe, expect, it } from "vitest";
import { Event, OfflineReason } from "@herald/proto";
import { expireGrace, foldPresence } from "./fold.js";
import type { FoldResult } from "./fold.js";
import { presenceKeys } from "./keys.js";
import { toUserPresence } from "./state.js";
import type { UserState } from "./state.js";

const T0 = Date.UTC(2026, 0, 1);
let ids = 0;

function online(
  connId: string,
  opts: { nodeId?: string; background?: boolean; userId?: string } = {},
): Event {
  return Event.fromPartial({
    id: `e${++ids}`,
    appId: "app1",
    operationId: `op${ids}`,
    occurredAt: new Date(T0 + ids),
    payload: {
      $case: "connectionOnline",
      value: {
        userId: opts.userId ?? "u1",
        connId,
        platformId: 5,
        platform: "Web",
        nodeId: opts.nodeId ?? "n1",
        isAppBackground: opts.background ?? false,
      },
    },
  });
}

function offline(connId: string, reason = OfflineReason.OFFLINE_REASON_LOGOUT): Event {
  return Event.fromPartial({
    id: `e${++ids}`,
    appId: "app1",
    occurredAt: new Date(T0 + ids),
    payload: { $case: "connectionOffline", value: { userId: "u1", connId, reason } },
  });
}

function background(connId: string, isAppBackground: boolean): Event {
  return Event.fromPartial({
    id: `e${++ids}`,
    appId: "app1",
    payload: { $case: "connectionBackground", value: { userId: "u1", connId, isAppBackground } },
  });
}

function reset(nodeId: string): Event {
  return Event.fromPartial({
    id: `e${++ids}`,
    appId: "app1",
    payload: { $case: "nodeReset", value: { nodeId } },
  });
}

/** Folds events at consecutive stream sequences; returns every result. */
function run(events: Event[], opts: { graceMs?: number; start?: UserState } = {}): FoldResult[] {
  let state = opts.start;
  return events.map((e, i) => {
    const r = foldPresence(state, e, i + 1, T0 + i, { graceMs: opts.graceMs ?? 0 });
    state = r.state;
    return r;
  });
}

const types = (results: FoldResult[]) => results.flatMap((r) => r.derived.map((e) => e.type));

describe("foldPresence", () => {
  it("goes online with the first connection and offline with the last, once each", () => {
    const results = run([online("c1"), online("c2"), offline("c1"), offline("c2")]);
    expect(types(results)).toEqual(["user.online", "user.offline"]);
    const last = results.at(-1);
    expect(last?.state.status).toBe("offline");
    expect(last?.state.seq).toBe(2);
    const off = last?.derived[0];
    expect(off?.id).toBe("app1:u1:presence:2");
    expect(off?.payload?.$case === "userOffline" && off.payload.value.connId).toBe("c2");
  });

  it("derives an event carrying the cause's id, operation and time", () => {
    const cause = online("c1");
    const [r] = run([cause]);
    const e = r?.derived[0];
    expect(e?.id).toBe("app1:u1:presence:1");
    expect(e?.operationId).toBe(cause.operationId);
    expect(e?.occurredAt).toEqual(cause.occurredAt);
    expect(e?.payload).toMatchObject({
      $case: "userOnline",
      value: { seq: 1, connId: "c1", platformId: 5, causeEventId: cause.id },
    });
  });

  it("changes nothing when the same stream sequence is applied twice", () => {
    const e = online("c1");
    const first = foldPresence(undefined, e, 7, T0);
    const again = foldPresence(first.state, e, 7, T0 + 1);
    expect(again.changed).toBe(false);
    expect(again.derived).toEqual([]);
    expect(again.state).toBe(first.state);
  });

  it("does not let a late, older online resurrect a removed connection", () => {
    const on = online("c1");
    const off = offline("c1");
    const a = foldPresence(undefined, on, 1, T0);
    const b = foldPresence(a.state, off, 3, T0);
    const late = foldPresence(b.state, online("c1"), 2, T0);
    expect(late.changed).toBe(false);
    expect(late.anomaly).toBeUndefined();
    expect(late.state.status).toBe("offline");
  });

  it("derives online then offline, once, when a connection's offline is folded before its online", () => {
    const on = online("c1");
    const off = offline("c1");
    const first = foldPresence(undefined, off, 8, T0);
    const late = foldPresence(first.state, on, 7, T0);
    expect(types([late])).toEqual(["user.online", "user.offline"]);
    expect(late.derived.map((e) => e.id)).toEqual(["app1:u1:presence:1", "app1:u1:presence:2"]);
    expect(
      late.derived[1]?.payload?.$case === "userOffline" && late.derived[1].payload.value.causeEventId,
    ).toBe(off.id);
    expect(late.state.status).toBe("offline");
    expect(foldPresence(late.state, on, 7, T0).changed).toBe(false);
  });

  it("reports nonsense as an anomaly and never throws", () => {
    const early = run([offline("nope")])[0];
    expect(early?.anomaly).toBe("offline_unknown_connection");
    // The online it ended, folded late (reordered by replicas or a redelivery), stays out.
    const late = foldPresence(early?.state, online("nope"), 0, T0);
    expect(Object.keys(late.state.connections)).toEqual([]);
    expect(run([background("nope", true)])[0]?.anomaly).toBe("background_unknown_connection");
  });

  it("derives user.background only when a connection's flag changes", () => {
    const results = run([
      online("c1"),
      background("c1", false),
      background("c1", true),
      background("c1", true),
    ]);
    expect(types(results)).toEqual(["user.online", "user.background"]);
    expect(results.at(-1)?.state.seq).toBe(2);
  });

  it("holds an abnormal disconnect for the grace period: a reconnect makes no flap", () => {
    const results = run(
      [online("c1"), offline("c1", OfflineReason.OFFLINE_REASON_DISCONNECT), online("c2")],
      {
        graceMs: 1000,
      },
    );
    expect(types(results)).toEqual(["user.online"]);
    const held = results[1]?.state;
    expect(held?.connections.c1?.graceUntil).toBe(T0 + 1 + 1000);
    const after = expireGrace(results[2]?.state as UserState, T0 + 5000);
    expect(after.derived).toEqual([]);
    expect(Object.keys(after.state.connections)).toEqual(["c2"]);
  });

  it("ends a grace period with one offline carrying the disconnect's cause", () => {
    const off = offline("c1", OfflineReason.OFFLINE_REASON_TIMEOUT);
    const results = run([online("c1"), off], { graceMs: 1000 });
    const held = results[1]?.state as UserState;
    expect(expireGrace(held, T0 + 500).changed).toBe(false);
    const done = expireGrace(held, T0 + 2000);
    expect(done.derived).toHaveLength(1);
    expect(done.derived[0]?.payload).toMatchObject({
      $case: "userOffline",
      value: { causeEventId: off.id, reason: OfflineReason.OFFLINE_REASON_TIMEOUT },
    });
    expect(expireGrace(done.state, T0 + 3000).changed).toBe(false);
  });

  it("takes every connection of a reset node offline together, once", () => {
    const results = run([online("c1", { nodeId: "n1" }), online("c2", { nodeId: "n1" })]);
    const state = results.at(-1)?.state;
    const r = foldPresence(state, reset("n1"), 10, T0);
    expect(r.derived).toHaveLength(1);
    expect(r.derived[0]?.payload?.$case === "userOffline" && r.derived[0].payload.value.nodeReset).toBe(true);
    expect(foldPresence(r.state, reset("n1"), 10, T0).changed).toBe(false);
  });

  it("keeps a user online when a reset node held only some connections", () => {
    const results = run([online("c1", { nodeId: "n1" }), online("c2", { nodeId: "n2" })]);
    const r = foldPresence(results.at(-1)?.state, reset("n1"), 10, T0);
    expect(r.derived).toEqual([]);
    expect(toUserPresence(r.state).connections.map((c) => c.connId)).toEqual(["c2"]);
  });
});

describe("presence keys", () => {
  it("puts any id into one key token and reads it back", () => {
    const key = presenceKeys.user(3, "app", "a.b 用户 🙂");
    expect(key).toBe("u.3.app.a=2Eb=20=E7=94=A8=E6=88=B7=20=F0=9F=99=82");
    expect(presenceKeys.lastId(key)).toBe("a.b 用户 🙂");
  });
});
