import { describe, expect, it } from "vitest";
import { formatDuration, nodeLine, type NodeJson } from "./nodes.js";

describe("herald nodes lines", () => {
  it("spells durations short", () => {
    expect(
      [850, 1500, 12_000, 59_600, 250_000, 3_600_000, 7_500_000, 90_000_000].map(formatDuration),
    ).toEqual(["850ms", "1.5s", "12s", "1m", "4m 10s", "1h", "2h 5m", "1d 1h"]);
  });

  it("shows a leased node and a node whose lease ran out", () => {
    const now = Date.parse("2026-01-01T00:01:00Z");
    const leased: NodeJson = {
      nodeId: "节点-1🚀",
      status: "leased",
      lastHeartbeatAt: "2026-01-01T00:00:57Z",
      leaseMs: 30_000,
      leaseExpiresAt: "2026-01-01T00:01:32Z",
      resetAt: null,
      resetReason: null,
      connections: 2,
    };
    expect(nodeLine(leased, now)).toBe(
      "节点-1🚀  leased  heartbeat 3s ago  lease 30s  expires in 32s  2 connection(s)",
    );
    const expired: NodeJson = {
      ...leased,
      status: "expired",
      lastHeartbeatAt: null,
      leaseMs: 0,
      leaseExpiresAt: null,
      resetAt: "2026-01-01T00:00:00Z",
      resetReason: "lease_expired",
      connections: 0,
    };
    expect(nodeLine(expired, now)).toBe("节点-1🚀  expired  reset 1m ago (lease_expired)  0 connection(s)");
  });
});
