import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidWebhookHeaderError, InvalidWebhookSecretError } from "./errors.js";
import { decodeWebhookSecret, signStandardWebhook } from "./sign.js";

interface TestVector {
  secret: string;
  msgId: string;
  timestampSeconds: number;
  body: string;
  signature: string;
}

const vector = JSON.parse(
  readFileSync(new URL("../__golden__/standard/standard-webhooks-test-vector.json", import.meta.url), "utf8"),
) as TestVector;

describe("signStandardWebhook", () => {
  it("reproduces the published Standard Webhooks test vector", () => {
    expect(signStandardWebhook(vector.secret, vector.msgId, vector.timestampSeconds, vector.body)).toBe(
      vector.signature,
    );
  });

  it("keys the HMAC with the decoded secret bytes, over id.timestamp.body in UTF-8", () => {
    const key = randomBytes(32);
    const body = '{"text":"héllo 👋"}';
    const expected = createHmac("sha256", key).update(`msg_1.1700000000.${body}`).digest("base64");
    expect(signStandardWebhook(`whsec_${key.toString("base64")}`, "msg_1", 1700000000, body)).toBe(
      `v1,${expected}`,
    );
  });

  it("changes with every signed part", () => {
    const base = signStandardWebhook(vector.secret, "msg_1", 1, "{}");
    expect(signStandardWebhook(vector.secret, "msg_2", 1, "{}")).not.toBe(base);
    expect(signStandardWebhook(vector.secret, "msg_1", 2, "{}")).not.toBe(base);
    expect(signStandardWebhook(vector.secret, "msg_1", 1, "{ }")).not.toBe(base);
  });

  it.each(["msg.1", "", "msg 1", "x".repeat(4097)])("rejects webhook-id %j", (msgId) => {
    expect(() => signStandardWebhook(vector.secret, msgId, 1, "{}")).toThrow(InvalidWebhookHeaderError);
  });

  it.each([-1, 1.5, Number.NaN, 2 ** 53])("rejects webhook-timestamp %s", (timestamp) => {
    expect(() => signStandardWebhook(vector.secret, "msg_1", timestamp, "{}")).toThrow(
      InvalidWebhookHeaderError,
    );
  });
});

describe("decodeWebhookSecret", () => {
  it("decodes the base64 after whsec_, padded or not", () => {
    const key = randomBytes(32);
    const padded = key.toString("base64");
    expect(padded.endsWith("=")).toBe(true);
    expect(decodeWebhookSecret(`whsec_${padded}`)).toStrictEqual(key);
    expect(decodeWebhookSecret(`whsec_${padded.replace(/=+$/, "")}`)).toStrictEqual(key);
  });

  it.each([
    ["no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["another prefix", "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    ["base64url", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-_"],
    ["stray padding", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw="],
    ["non-zero trailing bits", `whsec_${Buffer.alloc(25).toString("base64").replace(/A==$/, "B==")}`],
    ["too short", `whsec_${Buffer.alloc(23).toString("base64")}`],
    ["too long", `whsec_${Buffer.alloc(76).toString("base64")}`],
    ["empty", "whsec_"],
  ])("rejects a secret with %s", (_why, secret) => {
    expect(() => decodeWebhookSecret(secret)).toThrow(InvalidWebhookSecretError);
  });
});
