import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SignatureError, verifyRongCloud, type SignatureFailure } from "./index.js";

const NOW_MS = 1_700_000_000_000;
const APP_KEY = "someappKey";
const SECRET = "secret-current";
const OLD_SECRET = "secret-previous";

// Computed here, independently of the library under test.
function callbackUrl(
  secret: string,
  timestamp = NOW_MS,
  nonce = "14314",
  timestampName = "timestamp",
): string {
  const signature = createHash("sha1").update(`${secret}${nonce}${timestamp}`).digest("hex");
  return `/chatroom_status_sync?appKey=${APP_KEY}&${timestampName}=${timestamp}&nonce=${nonce}&signature=${signature}`;
}

function failure(run: () => void): SignatureFailure {
  try {
    run();
  } catch (err) {
    if (err instanceof SignatureError) return err.reason;
    throw err;
  }
  throw new Error("expected a SignatureError");
}

describe("verifyRongCloud", () => {
  it("passes a valid signature, relative or absolute URL, timestamp or signTimestamp", () => {
    expect(() =>
      verifyRongCloud({ url: callbackUrl(SECRET), appSecret: SECRET, appKey: APP_KEY, nowMs: NOW_MS }),
    ).not.toThrow();
    const absolute = `https://biz.example.com${callbackUrl(SECRET)}`;
    expect(() => verifyRongCloud({ url: absolute, appSecret: SECRET, nowMs: NOW_MS })).not.toThrow();
    const v3 = callbackUrl(SECRET, NOW_MS, "77", "signTimestamp");
    expect(() => verifyRongCloud({ url: v3, appSecret: SECRET, nowMs: NOW_MS })).not.toThrow();
  });

  it("accepts the signature in upper-case hex", () => {
    const url = callbackUrl(SECRET).replace(
      /signature=([0-9a-f]+)/,
      (_m, hex: string) => `signature=${hex.toUpperCase()}`,
    );
    expect(() => verifyRongCloud({ url, appSecret: SECRET, nowMs: NOW_MS })).not.toThrow();
  });

  it("rejects a tampered nonce or timestamp (the body is not signed by RongCloud)", () => {
    const tamperedNonce = callbackUrl(SECRET).replace("nonce=14314", "nonce=14315");
    expect(failure(() => verifyRongCloud({ url: tamperedNonce, appSecret: SECRET, nowMs: NOW_MS }))).toBe(
      "mismatch",
    );
    const tamperedTime = callbackUrl(SECRET).replace(`timestamp=${NOW_MS}`, `timestamp=${NOW_MS + 1}`);
    expect(failure(() => verifyRongCloud({ url: tamperedTime, appSecret: SECRET, nowMs: NOW_MS }))).toBe(
      "mismatch",
    );
  });

  it("rejects a wrong secret and a wrong appKey", () => {
    expect(
      failure(() => verifyRongCloud({ url: callbackUrl("other"), appSecret: SECRET, nowMs: NOW_MS })),
    ).toBe("mismatch");
    expect(
      failure(() =>
        verifyRongCloud({ url: callbackUrl(SECRET), appSecret: SECRET, appKey: "another", nowMs: NOW_MS }),
      ),
    ).toBe("mismatch");
  });

  it.each(["nonce", "timestamp", "signature", "appKey"])("reports a missing %s parameter", (name) => {
    const url = callbackUrl(SECRET).replace(new RegExp(`([?&])${name}=[^&]*`), "$1");
    expect(failure(() => verifyRongCloud({ url, appSecret: SECRET, appKey: APP_KEY, nowMs: NOW_MS }))).toBe(
      "missing",
    );
  });

  it("reports a malformed signature or timestamp", () => {
    const shortSignature = callbackUrl(SECRET).replace(/signature=[0-9a-f]+/, "signature=abc");
    expect(failure(() => verifyRongCloud({ url: shortSignature, appSecret: SECRET, nowMs: NOW_MS }))).toBe(
      "malformed",
    );
    const textTime = callbackUrl(SECRET).replace(`timestamp=${NOW_MS}`, "timestamp=yesterday");
    expect(failure(() => verifyRongCloud({ url: textTime, appSecret: SECRET, nowMs: NOW_MS }))).toBe(
      "malformed",
    );
  });

  it("rejects stale and future timestamps outside the tolerance, accepts the edges", () => {
    const at = (timestamp: number, toleranceMs?: number) => () =>
      verifyRongCloud({
        url: callbackUrl(SECRET, timestamp),
        appSecret: SECRET,
        nowMs: NOW_MS,
        ...(toleranceMs === undefined ? {} : { toleranceMs }),
      });
    expect(failure(at(NOW_MS - 300_001))).toBe("stale");
    expect(failure(at(NOW_MS + 300_001))).toBe("future");
    expect(at(NOW_MS - 300_000)).not.toThrow();
    expect(at(NOW_MS + 300_000)).not.toThrow();
    expect(failure(at(NOW_MS - 1_001, 1_000))).toBe("stale");
  });

  it("accepts either secret during rotation", () => {
    const secrets = [SECRET, OLD_SECRET];
    expect(() =>
      verifyRongCloud({ url: callbackUrl(OLD_SECRET), appSecret: secrets, nowMs: NOW_MS }),
    ).not.toThrow();
    expect(() =>
      verifyRongCloud({ url: callbackUrl(SECRET), appSecret: secrets, nowMs: NOW_MS }),
    ).not.toThrow();
    expect(
      failure(() => verifyRongCloud({ url: callbackUrl("retired"), appSecret: secrets, nowMs: NOW_MS })),
    ).toBe("mismatch");
  });
});
