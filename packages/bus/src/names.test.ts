import { ValidationError } from "@herald/runtime";
import { describe, expect, it } from "vitest";
import { busNames, isSubjectToken } from "./names.js";

describe("busNames", () => {
  it("uses the bare names without a namespace", () => {
    const n = busNames();
    expect(n.namespace).toBe("");
    expect(n.streams).toEqual({ events: "EVENTS", deliveries: "DELIVERIES", attempts: "ATTEMPTS" });
    expect(n.buckets.config).toBe("CONFIG");
    expect(n.buckets.presence).toBe("PRESENCE");
    expect(n.buckets.rooms).toBe("ROOMS");
    expect(n.subjects.event({ lane: "conn", partition: 3, appId: "app1", type: "conn.online" })).toBe(
      "herald.ev.conn.3.app1.conn.online",
    );
    expect(n.subjects.events()).toBe("herald.ev.>");
    expect(n.subjects.events("app1")).toBe("herald.ev.*.*.app1.>");
    expect(n.subjects.lane("room")).toBe("herald.ev.room.>");
    expect(n.subjects.lane("room", 15)).toBe("herald.ev.room.15.>");
    expect(n.subjects.job(3, "app1", "ep1")).toBe("herald.job.3.app1.ep1");
    expect(n.subjects.jobs(3)).toBe("herald.job.3.>");
    expect(n.subjects.jobs()).toBe("herald.job.>");
    expect(n.subjects.legacyJobs()).toBe("herald.dl.>");
    expect(n.subjects.attempt("app1")).toBe("herald.at.app1");
    expect(n.subjects.attempts()).toBe("herald.at.>");
    expect(n.subjects.before("app1", "sendMsg")).toBe("herald.before.app1.sendMsg");
    expect(n.subjects.befores()).toBe("herald.before.>");
    expect(n.subjects.worker("e1")).toBe("herald.worker.e1");
  });

  it("prefixes streams, bucket and subjects with a namespace", () => {
    const n = busNames("t42");
    expect(n.streams).toEqual({
      events: "t42_EVENTS",
      deliveries: "t42_DELIVERIES",
      attempts: "t42_ATTEMPTS",
    });
    expect(n.buckets.config).toBe("t42_CONFIG");
    expect(n.buckets.presence).toBe("t42_PRESENCE");
    expect(n.buckets.rooms).toBe("t42_ROOMS");
    expect(n.subjects.event({ lane: "room", partition: 0, appId: "app1", type: "room.joined" })).toBe(
      "t42.herald.ev.room.0.app1.room.joined",
    );
    expect(n.subjects.events()).toBe("t42.herald.ev.>");
    expect(n.subjects.events("app1")).toBe("t42.herald.ev.*.*.app1.>");
    expect(n.subjects.lane("conn", 2)).toBe("t42.herald.ev.conn.2.>");
    expect(n.subjects.jobs()).toBe("t42.herald.job.>");
    expect(n.subjects.attempt("a")).toBe("t42.herald.at.a");
    expect(n.subjects.befores()).toBe("t42.herald.before.>");
    expect(n.subjects.worker("e1")).toBe("t42.herald.worker.e1");
  });

  it("refuses a namespace that is not [a-z0-9]{1,12}", () => {
    for (const bad of ["T1", "a.b", "a_b", "abcdefghijklm", " "]) {
      expect(() => busNames(bad), bad).toThrow(ValidationError);
    }
  });

  it("throws ValidationError naming the field for a bad token", () => {
    const n = busNames();
    const fieldOf = (f: () => string): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof ValidationError ? err.field : "not a ValidationError";
      }
      return undefined;
    };
    const at = { lane: "conn", partition: 0, appId: "app", type: "conn.online" };
    expect(fieldOf(() => n.subjects.event({ ...at, appId: "a.b", type: "x" }))).toBe("appId");
    expect(fieldOf(() => n.subjects.event({ ...at, type: "conn..online" }))).toBe("type");
    expect(fieldOf(() => n.subjects.event({ ...at, type: ".online" }))).toBe("type");
    expect(fieldOf(() => n.subjects.event({ ...at, type: "conn.*" }))).toBe("type");
    expect(fieldOf(() => n.subjects.event({ ...at, lane: "co.nn" }))).toBe("lane");
    expect(fieldOf(() => n.subjects.event({ ...at, lane: "*" }))).toBe("lane");
    for (const partition of [-1, 1.5, 10_000, Number.NaN]) {
      expect(
        fieldOf(() => n.subjects.event({ ...at, partition })),
        String(partition),
      ).toBe("partition");
    }
    expect(fieldOf(() => n.subjects.lane("conn", -1))).toBe("partition");
    expect(fieldOf(() => n.subjects.lane(">"))).toBe("lane");
    expect(fieldOf(() => n.subjects.events(">"))).toBe("appId");
    expect(fieldOf(() => n.subjects.job(0, "app", "ep 1"))).toBe("endpointId");
    expect(fieldOf(() => n.subjects.attempt(""))).toBe("appId");
    expect(fieldOf(() => n.subjects.before("app", "send.msg"))).toBe("command");
    expect(fieldOf(() => n.subjects.event(at))).toBeUndefined();
  });
});

describe("subjects.parseEvent", () => {
  const addresses = [
    { lane: "conn", partition: 0, appId: "app1", type: "conn.online" },
    { lane: "msg", partition: 9999, appId: "A-b_c", type: "openim.callbackAfterJoinGroupCommand" },
    { lane: "room", partition: 7, appId: "chat", type: "room.joined" },
    { lane: "msg", partition: 1, appId: "app1", type: "a.b.c.d" },
    // The bus takes any subject token; the config's app id rule is what keeps these out of apps.
    { lane: "user", partition: 12, appId: "日本", type: "user.offline" },
    { lane: "user", partition: 12, appId: "🙂", type: "user.online" },
  ];

  it("reads back what subjects.event built, with and without a namespace", () => {
    for (const names of [busNames(), busNames("t42")]) {
      for (const at of addresses) {
        expect(names.subjects.parseEvent(names.subjects.event(at)), JSON.stringify(at)).toEqual(at);
      }
    }
  });

  it("says undefined for subjects that are not a stored event of this namespace", () => {
    const n = busNames("t42");
    for (const subject of [
      "t42.herald.ev.app1.conn.online", // the layout before partitions
      "t42.herald.ev.conn.x.app1.conn.online",
      "t42.herald.ev.conn.12345.app1.conn.online",
      "t42.herald.ev.conn.1.app1",
      "t42.herald.ev.conn.1",
      "herald.ev.conn.1.app1.conn.online", // another namespace
      "t42.herald.dl.app1.ep1",
    ]) {
      expect(n.subjects.parseEvent(subject), subject).toBeUndefined();
    }
  });
});

describe("isSubjectToken", () => {
  it("accepts plain tokens", () => {
    for (const ok of ["app1", "A-b_c", "ep:1", "日本"]) expect(isSubjectToken(ok), ok).toBe(true);
  });
  it("rejects empty, dots, wildcards and whitespace", () => {
    for (const bad of ["", "a.b", "*", "a>", "a b", "a\tb", "a\nb"])
      expect(isSubjectToken(bad), bad).toBe(false);
  });
});
