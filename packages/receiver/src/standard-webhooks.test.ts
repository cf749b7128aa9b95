import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SignatureError, verifyStandardWebhook, type SignatureFailure } from "./index.js";

const NOW = 1_700_000_000;
const body = '{"type":"presence.changed","timestamp":"2023-11-14T22:13:20Z","data":{"userId":"u1"}}';
const newSecret = `whsec_${randomBytes(24).toString("base64")}`;
const oldSecret = `whsec_${randomBytes(32).toString("base64")}`;

// Computed here, independently of the library under test.
function sign(secret: string, id: string, timestamp: number, payload: string): string {
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${payload}`).digest("base64")}`;
}

function headersFor(signature: string, timestamp = NOW): Record<string, string> {
  return { "webhook-id": "msg_1", "webhook-timestamp": String(timestamp), "webhook-signature": signature };
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

describe("verifyStandardWebhook", () => {
  it("passes the official Standard Webhooks test vector", () => {
    // From the standard-webhooks reference libraries' test suites.
    const run = () =>
      verifyStandardWebhook({
        headers: {
          "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
          "webhook-timestamp": "1614265330",
          "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        },
        body: '{"test": 2432232314}',
        secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        nowSeconds: 1614265330,
      });
    expect(run).not.toThrow();
  });

  it("passes a valid signature, with headers in any case and the body as bytes", () => {
    const headers = {
      "Webhook-Id": "msg_1",
      "WEBHOOK-TIMESTAMP": String(NOW),
      "webhook-Signature": sign(newSecret, "msg_1", NOW, body),
    };
    expect(() =>
      verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW }),
    ).not.toThrow();
    const bytes = new TextEncoder().encode(body);
    expect(() =>
      verifyStandardWebhook({ headers, body: bytes, secrets: [newSecret], nowSeconds: NOW }),
    ).not.toThrow();
  });

  it("rejects a tampered body", () => {
    const headers = headersFor(sign(newSecret, "msg_1", NOW, body));
    const tampered = body.replace("u1", "u2");
    expect(
      failure(() =>
        verifyStandardWebhook({ headers, body: tampered, secrets: [newSecret], nowSeconds: NOW }),
      ),
    ).toBe("mismatch");
  });

  it("rejects a tampered webhook-id", () => {
    const headers = { ...headersFor(sign(newSecret, "msg_1", NOW, body)), "webhook-id": "msg_2" };
    expect(
      failure(() => verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW })),
    ).toBe("mismatch");
  });

  it("rejects a signature made with another secret", () => {
    const headers = headersFor(sign(oldSecret, "msg_1", NOW, body));
    expect(
      failure(() => verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW })),
    ).toBe("mismatch");
  });

  it.each(["webhook-id", "webhook-timestamp", "webhook-signature"])("reports a missing %s header", (name) => {
    const headers: Record<string, string | undefined> = headersFor(sign(newSecret, "msg_1", NOW, body));
    headers[name] = undefined;
    expect(
      failure(() => verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW })),
    ).toBe("missing");
  });

  it("reports malformed timestamps and signature entries", () => {
    const valid = sign(newSecret, "msg_1", NOW, body);
    const cases: Record<string, string>[] = [
      { ...headersFor(valid), "webhook-timestamp": "2023-11-14T22:13:20Z" },
      headersFor("K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="),
      headersFor("v1,not*base64"),
      headersFor(
        "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqfaDu4GIZ8sRJtg0zBGhmQ7ke0uBa9qwMbmLJAKAA==",
      ),
    ];
    for (const headers of cases) {
      expect(
        failure(() => verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW })),
      ).toBe("malformed");
    }
  });

  it("rejects stale and future timestamps outside the tolerance, accepts the edges", () => {
    const at = (timestamp: number, nowSeconds: number, toleranceSeconds?: number) => () =>
      verifyStandardWebhook({
        headers: headersFor(sign(newSecret, "msg_1", timestamp, body), timestamp),
        body,
        secrets: [newSecret],
        nowSeconds,
        ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }),
      });
    expect(failure(at(NOW - 301, NOW))).toBe("stale");
    expect(failure(at(NOW + 301, NOW))).toBe("future");
    expect(at(NOW - 300, NOW)).not.toThrow();
    expect(at(NOW + 300, NOW)).not.toThrow();
    expect(failure(at(NOW - 11, NOW, 10))).toBe("stale");
  });

  it("accepts any valid signature among several during rotation", () => {
    const both = `${sign(newSecret, "msg_1", NOW, body)} ${sign(oldSecret, "msg_1", NOW, body)}`;
    const headers = headersFor(both);
    // A receiver that knows only one of the two keys still passes.
    expect(() =>
      verifyStandardWebhook({ headers, body, secrets: [oldSecret], nowSeconds: NOW }),
    ).not.toThrow();
    expect(() =>
      verifyStandardWebhook({ headers, body, secrets: [newSecret], nowSeconds: NOW }),
    ).not.toThrow();
    // A receiver that holds both keys accepts a sender that still signs with the old one only.
    const oldOnly = headersFor(sign(oldSecret, "msg_1", NOW, body));
    expect(() =>
      verifyStandardWebhook({ headers: oldOnly, body, secrets: [newSecret, oldSecret], nowSeconds: NOW }),
    ).not.toThrow();
    const stranger = `whsec_${randomBytes(24).toString("base64")}`;
    expect(
      failure(() => verifyStandardWebhook({ headers, body, secrets: [stranger], nowSeconds: NOW })),
    ).toBe("mismatch");
  });

  it("refuses a configuration with no secret or a non-base64 secret", () => {
    const headers = headersFor(sign(newSecret, "msg_1", NOW, body));
    expect(() => verifyStandardWebhook({ headers, body, secrets: [], nowSeconds: NOW })).toThrow(TypeError);
    expect(() =>
      verifyStandardWebhook({ headers, body, secrets: ["whsec_not base64!"], nowSeconds: NOW }),
    ).toThrow(TypeError);
  });
});
