import { describe, expect, it } from "vitest";
import { Event, OfflineReason, type DeepPartial } from "@herald/proto";
import { foldPresence, regrace } from "./fold.js";
import { nodeTimerDue, remargin } from "./node-lease.js";
import { emptyNodeState, graceDue } from "./state.js";

const T0 = Date.UTC(2026, 0, 1);

function conn(seq: number, payload: DeepPartial<Event>["payload"]): Event {
  return Event.fromPartial({ id: `e${seq}`, appId: "app1", occurredAt: new Date(T0), payload });
}

describe("a changed setting moves what already waits on it", () => {
  it("moves a held disconnect's end to its start plus the new grace period", () => {
    const on = foldPresence(
      undefined,
      conn(1, { $case: "connectionOnline", value: { userId: "用户", connId: "c1", nodeId: "n1" } }),
      1,
      T0,
    );
    const held = foldPresence(
      on.state,
      conn(2, {
        $case: "connectionOffline",
        value: { userId: "用户", connId: "c1", reason: OfflineReason.OFFLINE_REASON_DISCONNECT },
      }),
      2,
      T0 + 1_000,
      { graceMs: 600_000 },
    );
    expect(graceDue(held.state)).toBe(T0 + 601_000);
    expect(regrace(held.state, 600_000)).toBeUndefined();
    expect(graceDue(regrace(held.state, 30_000) ?? held.state)).toBe(T0 + 31_000);
    expect(graceDue(regrace(held.state, 0) ?? held.state)).toBe(T0 + 1_000);
  });

  it("moves a leased node's expiry by the new margin, but not while a check is on its way", () => {
    const node = {
      ...emptyNodeState("app1", "节点"),
      heartbeatAt: T0,
      heartbeatSeq: 5,
      leaseMs: 30_000,
      marginMs: 5_000,
    };
    expect(nodeTimerDue(node)).toBe(T0 + 35_000);
    expect(nodeTimerDue(remargin(node, 1_000) ?? node)).toBe(T0 + 31_000);
    expect(remargin(node, 5_000)).toBeUndefined();
    expect(remargin({ ...node, checks: 1 }, 1_000)).toBeUndefined();
    expect(remargin(emptyNodeState("app1", "unleased"), 1_000)).toBeUndefined();
  });
});
