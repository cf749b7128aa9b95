import { describe, expect, it } from "vitest";
import type { EndpointState } from "@herald/config";
import { Event } from "@herald/proto";
import { operationalChanges, operationalEvent } from "./operational-events.js";

const NOW = new Date("2026-01-02T03:04:05.000Z");
const T1 = "2026-01-01T00:00:00.000Z";
const T2 = "2026-01-01T00:01:00.000Z";
const active = (extra: Partial<EndpointState> = {}): EndpointState => ({
  state: "active",
  reason: "",
  since: T1,
  ...extra,
});
const kinds = (before: EndpointState | undefined, after: EndpointState | undefined) =>
  operationalChanges(before, after, NOW).map((c) => c.kind);

describe("operationalChanges", () => {
  it("names a change of state: disabled, paused, enabled (a deleted state is active)", () => {
    const disabled: EndpointState = { state: "disabled", reason: "answered HTTP 401", since: T2 };
    expect(operationalChanges(undefined, disabled, NOW)).toEqual([
      { kind: "disabled", at: T2, reason: "answered HTTP 401" },
    ]);
    expect(kinds(disabled, active({ since: T2 }))).toEqual(["enabled"]);
    expect(kinds(disabled, undefined)).toEqual(["enabled"]);
    expect(kinds(undefined, { state: "paused", until: T2, reason: "r", since: T1 })).toEqual(["paused"]);
  });

  it("says nothing for a repeated disable or a write that changes nothing an operator sees", () => {
    const disabled: EndpointState = { state: "disabled", reason: "a", since: T1 };
    expect(kinds(disabled, { ...disabled, since: T2 })).toEqual([]);
    expect(kinds(active(), active({ failingSince: T2 }))).toEqual([]);
    expect(kinds(undefined, undefined)).toEqual([]);
  });

  it("reports a new pause of a paused endpoint (a failed probe pauses it again)", () => {
    const paused: EndpointState = { state: "paused", until: T2, reason: "r", since: T1 };
    expect(kinds(paused, { ...paused, since: T2 })).toEqual(["paused"]);
  });

  it("reports failing when the mark appears, recovered when a delivery ends it, once each", () => {
    const failing = active({ failing: { since: T2, reason: "4 attempts in a row failed" } });
    expect(operationalChanges(active(), failing, NOW)).toEqual([
      { kind: "failing", at: T2, reason: "4 attempts in a row failed" },
    ]);
    expect(kinds(failing, { ...failing })).toEqual([]);
    const recovered = active({ recovered: T2 });
    expect(kinds(failing, recovered)).toEqual(["recovered"]);
    expect(kinds(recovered, { ...recovered })).toEqual([]);
    // An operator's enable of a failing endpoint clears the mark but is no recovery.
    expect(kinds(failing, active({ since: T2 }))).toEqual([]);
  });
});

describe("operationalEvent", () => {
  it("is typed endpoint.<kind>, keyed by the revision, and round-trips", () => {
    const after: EndpointState = { state: "paused", until: T2, reason: "3 timeouts", since: T1 };
    const event = operationalEvent(
      "app-1",
      "ep-1",
      { kind: "paused", at: T1, reason: "3 timeouts" },
      { before: undefined, after },
      77,
    );
    expect(event.type).toBe("endpoint.paused");
    expect(event.id).toBe("endpoint.paused:77");
    const back = Event.decode(Event.encode(event).finish());
    expect(back.payload).toEqual({
      $case: "endpointPaused",
      value: {
        endpointId: "ep-1",
        state: "paused",
        previousState: "active",
        reason: "3 timeouts",
        since: new Date(T1),
        until: new Date(T2),
        revision: 77,
      },
    });
  });
});
