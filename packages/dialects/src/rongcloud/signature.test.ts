import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { rongCloudSignature, rongCloudSignedUrl } from "./signature.js";

// Seed 001's example request URL, verbatim (its signature was made with a secret the seed does not give).
const seedUrl = readFileSync(
  new URL("../__golden__/rongcloud/seed001-signed-url.txt", import.meta.url),
  "utf8",
).replace(/\n$/, "");

const seedOptions = {
  appKey: "someappKey",
  appSecret: "someAppSecret",
  nonce: "14314",
  timestampMs: 1408710653491,
};

describe("rongCloudSignedUrl", () => {
  it("reproduces seed 001's URL but for the signature, which needs the unknown secret", () => {
    const url = rongCloudSignedUrl("http://example.com/chatroom_status_sync.php", seedOptions);
    const withSeedSignature = url.replace(
      /signature=[0-9a-f]{40}$/,
      "signature=45beb7cc7307889a8e711219a47b7cf6a5b000e8",
    );
    expect(withSeedSignature).toBe(seedUrl);
  });

  it("signs hex(sha1(appSecret + nonce + timestamp))", () => {
    const expected = createHash("sha1").update("someAppSecret143141408710653491").digest("hex");
    expect(rongCloudSignature("someAppSecret", "14314", 1408710653491)).toBe(expected);
    const url = rongCloudSignedUrl("http://example.com/chatroom_status_sync.php", seedOptions);
    expect(new URL(url).searchParams.get("signature")).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{40}$/);
  });

  it("appends to an existing query and encodes values", () => {
    const url = rongCloudSignedUrl("https://h/cb?tenant=1", { ...seedOptions, appKey: "a&b" });
    expect(
      url.startsWith("https://h/cb?tenant=1&appKey=a%26b&timestamp=1408710653491&nonce=14314&signature="),
    ).toBe(true);
  });
});
