import { describe, expect, it } from "vitest";
import { hookProviderSchema, parseGrpcTarget } from "./hook-provider.js";
import { tencentAppSchema } from "./tencent/before.js";

describe("parseGrpcTarget", () => {
  it("splits grpc://host:port, IPv6 without brackets", () => {
    expect(parseGrpcTarget("grpc://decide.example.com:7000")).toEqual({
      target: "grpc://decide.example.com:7000",
      host: "decide.example.com",
      port: 7000,
    });
    expect(parseGrpcTarget("grpc://[::1]:7000")).toMatchObject({ host: "::1", port: 7000 });
  });

  it.each([
    ["http://h:1", /not http:/],
    ["grpc://h", /port is missing/],
    ["grpc://h:0", /port is missing/],
    ["grpc://h:1/path", /without a path/],
    ["grpc://h:1?x=1", /without a path/],
    ["grpc://u:p@h:1", /no user info/],
    ["h:1", /expected grpc:\/\/host:port/],
    ["grpc://h:70000", /expected grpc:\/\/host:port/],
  ])("refuses %s", (text, why) => {
    expect(parseGrpcTarget(text)).toMatch(why);
  });
});

describe("hookProviderSchema", () => {
  it("takes one to four distinct targets", () => {
    expect(hookProviderSchema.parse({ targets: ["grpc://a:1", "grpc://b:1"] })).toEqual({
      targets: ["grpc://a:1", "grpc://b:1"],
    });
    const fails = (value: unknown) => hookProviderSchema.safeParse(value).error?.issues[0]?.message;
    expect(fails({ targets: [] })).toBe("expected at least one target");
    expect(fails({ targets: ["grpc://a:1", "grpc://b:1", "grpc://c:1", "grpc://d:1", "grpc://e:1"] })).toBe(
      "expected at most 4 targets",
    );
    expect(fails({ targets: ["grpc://a:1", "grpc://a:1"] })).toBe("a target is listed twice");
    expect(fails({ targets: ["grpc://a:1"], extra: 1 })).toMatch(/extra/);
  });

  it("is the provider of Tencent's app block as of OpenIM's", () => {
    const block = { url: "https://im.example.com/cb", sdkAppId: "1400000000" };
    expect(tencentAppSchema.parse({ ...block, provider: { targets: ["grpc://a:1"] } }).provider).toEqual({
      targets: ["grpc://a:1"],
    });
    expect(tencentAppSchema.safeParse({ ...block, provider: { targets: ["http://a:1"] } }).success).toBe(
      false,
    );
  });
});
