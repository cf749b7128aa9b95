import { describe, expect, it } from "vitest";
import { appSettingsOf, parseHeraldConfig, validateAppConfig } from "./index.js";
import { refusal } from "./__fixtures__/refusal.js";

const file = (blocks: string) =>
  parseHeraldConfig(`apps:\n  app1:\n    openim: {url: "http://h/cb"}\n${blocks}`, {
    file: "herald.yml",
  });

describe("per-app presence and chatroom settings", () => {
  it("reads milliseconds and durations from the file, storing whole milliseconds", async () => {
    const { apps, warnings } = await file(
      "    presence: {graceMs: 30s, nodeLeaseMarginMs: 2500}\n" +
        "    chatroom:\n      kickAfterMs: 5m\n      abnormalDelayMs: 0\n      idleDestroyMs: 7d\n",
    );
    expect(warnings).toEqual([]);
    expect(apps[0]?.presence).toEqual({ graceMs: 30_000, nodeLeaseMarginMs: 2_500 });
    expect(apps[0]?.chatroom).toEqual({
      kickAfterMs: 300_000,
      abnormalDelayMs: 0,
      idleDestroyMs: 604_800_000,
    });
  });

  it("keeps absent values absent, so the service's defaults apply (and an empty block stores nothing)", async () => {
    const { apps } = await file("    presence: {graceMs: 1s}\n    chatroom: {}\n");
    expect(apps[0]?.presence).toEqual({ graceMs: 1_000 });
    expect(apps[0] !== undefined && "chatroom" in apps[0]).toBe(false);
    const stored = validateAppConfig({ appId: "a", presence: { nodeLeaseMarginMs: null } });
    expect(stored).not.toHaveProperty("presence");
    expect(stored).not.toHaveProperty("chatroom");
  });

  it("takes the same forms through the stored (admin API) path, and stores equal bytes for equal values", () => {
    const a = validateAppConfig({ appId: "a", chatroom: { idleDestroyMs: "2h", kickAfterMs: 60_000 } });
    const b = validateAppConfig({ appId: "a", chatroom: { kickAfterMs: "1m", idleDestroyMs: 7_200_000 } });
    expect(a.chatroom).toEqual({ kickAfterMs: 60_000, idleDestroyMs: 7_200_000 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // What the store holds reads back the same.
    expect(validateAppConfig(JSON.parse(JSON.stringify(a)))).toEqual(a);
  });

  it.each([
    ["presence: {graceMs: -1}", "apps.app1.presence.graceMs", /must be from 0 to 7d, got -1ms/],
    [
      "presence: {nodeLeaseMarginMs: 8d}",
      "apps.app1.presence.nodeLeaseMarginMs",
      /must be from 0 to 7d, got 8d/,
    ],
    ["chatroom: {kickAfterMs: 604800001}", "apps.app1.chatroom.kickAfterMs", /must be from 0 to 7d/],
    ["chatroom: {abnormalDelayMs: soon}", "apps.app1.chatroom.abnormalDelayMs", /duration like/],
    ["chatroom: {idleDestroyMs: 1.5}", "apps.app1.chatroom.idleDestroyMs", /whole number of milliseconds/],
    [
      "chatroom: {idleDestroyMs: true}",
      "apps.app1.chatroom.idleDestroyMs",
      /expected milliseconds or a duration/,
    ],
    ["chatroom: {kickAfter: 5s}", "apps.app1.chatroom.kickAfter", /unknown key/],
    ["presence: 5s", "apps.app1.presence", /expected a mapping/],
  ])("refuses %s in a file, naming the field", async (yaml, path, message) => {
    const err = await refusal(() => file(`    ${yaml}\n`));
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
    expect(err.line).toBe(4);
  });

  it.each([
    [{ presence: { graceMs: -5_000 } }, "apps.a.presence.graceMs"],
    [{ chatroom: { kickAfterMs: "8d" } }, "apps.a.chatroom.kickAfterMs"],
    [{ chatroom: { idleDestroyMs: "-1s" } }, "apps.a.chatroom.idleDestroyMs"],
  ])("refuses %j through the stored path, naming the field", async (blocks, path) => {
    const err = await refusal(() => validateAppConfig({ appId: "a", ...blocks }, "apps.a"));
    expect(err.path).toBe(path);
  });
});

describe("appSettingsOf", () => {
  it("reads an app's block over the service's defaults, as CONFIG holds it at each call", () => {
    const apps = new Map<string, { presence?: { graceMs?: number; nodeLeaseMarginMs?: number } }>([
      ["set", { presence: { graceMs: 30_000 } }],
      ["unset", {}],
    ]);
    const of = appSettingsOf({ app: (id) => apps.get(id) }, "presence", {
      graceMs: 0,
      nodeLeaseMarginMs: 5_000,
    });
    expect(of("set")).toEqual({ graceMs: 30_000, nodeLeaseMarginMs: 5_000 });
    expect(of("unset")).toEqual({ graceMs: 0, nodeLeaseMarginMs: 5_000 });
    expect(of("unknown")).toEqual({ graceMs: 0, nodeLeaseMarginMs: 5_000 });
    apps.set("set", { presence: { graceMs: 0, nodeLeaseMarginMs: 1_000 } });
    expect(of("set")).toEqual({ graceMs: 0, nodeLeaseMarginMs: 1_000 });
  });
});
