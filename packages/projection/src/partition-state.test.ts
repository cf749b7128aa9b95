import { describe, expect, it } from "vitest";
import { Event } from "@herald/proto";
import { createLogger } from "@herald/runtime";
import type { ProjectionDefinition } from "./definition.js";
import { PartitionState } from "./partition-state.js";

// The context a fold sees, without NATS: what each call puts into the batch it cuts.

const log = createLogger({ service: "projection-test", level: "silent" });
const counter = (
  apply: ProjectionDefinition<number>["apply"],
  extra: Partial<ProjectionDefinition<number>> = {},
) =>
  new PartitionState<number>(
    {
      name: "t",
      lane: "conn",
      bucket: "B",
      stateFilter: (p) => `s.${p}.>`,
      encode: (n) => new TextEncoder().encode(String(n)),
      decode: (_k, d) => Number(new TextDecoder().decode(d)),
      apply,
      ...extra,
    },
    0,
    1,
    log,
  );
const event = (id: string) => Event.fromPartial({ id, appId: "a" });

describe("PartitionState", () => {
  it("deletes a state: a write without data, compare-and-set on the revision it was loaded at", () => {
    const state = counter((ctx, e) => (e.id === "del" ? ctx.delete("s.0.x") : ctx.set("s.0.x", 1)));
    state.load("s.0.x", new TextEncoder().encode("5"), 42);
    state.loaded(10);
    state.apply(event("del"), { seq: 11, time: 1 });
    expect(state.get("s.0.x")).toBeUndefined();
    expect(state.cut().writes).toEqual([{ key: "s.0.x", data: undefined, revision: 42 }]);
    state.written("s.0.x", 0);
    state.apply(event("set"), { seq: 12, time: 2 });
    expect(state.cut().writes).toEqual([{ key: "s.0.x", data: new TextEncoder().encode("1"), revision: 0 }]);
  });

  it("hands deferred reads to the batch, and says where the last cut batch ended", async () => {
    const seen: number[] = [];
    const state = counter((ctx, e) => {
      seen.push(ctx.cutThrough());
      ctx.publishAsync(() => Promise.resolve([event(`derived-${e.id}`)]));
    });
    state.loaded(10);
    state.apply(event("1"), { seq: 11, time: 1 });
    state.apply(event("2"), { seq: 12, time: 2 });
    const batch = state.cut();
    state.apply(event("3"), { seq: 13, time: 3 });
    expect(seen).toEqual([10, 10, 12]);
    expect((await Promise.all(batch.deferred.map((d) => d()))).flat().map((e) => e.id)).toEqual([
      "derived-1",
      "derived-2",
    ]);
    expect(state.cut().deferred).toHaveLength(1);
  });

  it("hands the side keys read at load to loaded()", () => {
    let got: string[] = [];
    const state = counter(() => undefined, { loaded: (_ctx, _through, side) => (got = [...side.keys()]) });
    state.loaded(0, new Map([["m.0.x", new Uint8Array([1])]]));
    expect(got).toEqual(["m.0.x"]);
  });
});
