import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Event, MissingEventPayloadError, type DeepPartial } from "@herald/proto";
import { describe, expect, it } from "vitest";
import { InvalidPassthroughPayloadError } from "../openim/passthrough.js";
import { MissingOccurredAtError } from "../openim/presence-event.js";
import { InvalidWebhookSecretError } from "./errors.js";
import { renderStandardWebhook } from "./render.js";

// The golden files hold the exact bytes; a text file's one trailing newline is not part of them.
function golden(name: string): string {
  return readFileSync(new URL(`../__golden__/standard/${name}`, import.meta.url), "utf8").replace(/\n$/, "");
}

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(24, 0xb2);
const SECRET_A = `whsec_${KEY_A.toString("base64")}`;
const SECRET_B = `whsec_${KEY_B.toString("base64")}`;

function event(payload: DeepPartial<Event>["payload"]): Event {
  return Event.fromPartial({
    id: "evt-1",
    appId: "app_1",
    occurredAt: new Date("2020-10-12T14:06:26.500Z"),
    operationId: "op-1",
    payload,
  });
}

const messageSent = event({
  $case: "messageSent",
  value: {
    messageId: "138946",
    fromUserId: "2",
    toUserId: "3601",
    content: "ok",
    atUserIds: ["7"],
    sentAt: new Date("2020-10-12T14:06:26Z"),
  },
});

// What a receiver computes: HMAC-SHA256 with the decoded key over "id.timestamp.body", base64.
function expectedSignature(key: Buffer, msgId: string, timestamp: number, body: string): string {
  return `v1,${createHmac("sha256", key).update(`${msgId}.${timestamp}.${body}`).digest("base64")}`;
}

describe("renderStandardWebhook", () => {
  it("renders msg.sent byte for byte, signed once per secret", () => {
    const spec = renderStandardWebhook({
      event: messageSent,
      msgId: "msg_evt-1",
      timestampSeconds: 1602511600,
      secrets: [SECRET_A, SECRET_B],
      url: "https://example.com/hooks",
    });
    expect(spec.method).toBe("POST");
    expect(spec.url).toBe("https://example.com/hooks");
    expect(spec.body).toBe(golden("msg-sent.body.txt"));
    expect(spec.headers).toStrictEqual({
      "webhook-id": "msg_evt-1",
      "webhook-timestamp": "1602511600",
      "webhook-signature": [
        expectedSignature(KEY_A, "msg_evt-1", 1602511600, spec.body),
        expectedSignature(KEY_B, "msg_evt-1", 1602511600, spec.body),
      ].join(" "),
      "content-type": "application/json",
    });
  });

  it("renders a passthrough's payload_json as data under its openim type", () => {
    const spec = renderStandardWebhook({
      event: event({
        $case: "passthrough",
        value: { command: "callbackAfterJoinGroupCommand", payloadJson: '{"groupID":"g1","userID":"u1"}' },
      }),
      msgId: "msg_1",
      timestampSeconds: 1,
      secrets: [SECRET_A],
      url: "https://example.com",
    });
    expect(spec.body).toBe(
      '{"type":"openim.callbackAfterJoinGroupCommand","timestamp":"2020-10-12T14:06:26.500Z",' +
        '"data":{"groupID":"g1","userID":"u1"}}',
    );
  });

  it("throws for a passthrough whose payload_json is not an object", () => {
    const bad = event({ $case: "passthrough", value: { command: "x", payloadJson: "[1]" } });
    const input = { event: bad, msgId: "m", timestampSeconds: 1, secrets: [SECRET_A], url: "u" };
    expect(() => renderStandardWebhook(input)).toThrow(InvalidPassthroughPayloadError);
  });

  it("refuses to send unsigned or without a time or payload", () => {
    const base = { msgId: "m", timestampSeconds: 1, url: "u" };
    expect(() => renderStandardWebhook({ ...base, event: messageSent, secrets: [] })).toThrow(
      InvalidWebhookSecretError,
    );
    expect(() => renderStandardWebhook({ ...base, event: messageSent, secrets: ["secret"] })).toThrow(
      InvalidWebhookSecretError,
    );
    const untimed = Event.fromPartial({ id: "e", payload: { $case: "nodeReset", value: { nodeId: "n" } } });
    expect(() => renderStandardWebhook({ ...base, event: untimed, secrets: [SECRET_A] })).toThrow(
      MissingOccurredAtError,
    );
    const empty = Event.fromPartial({ id: "e", occurredAt: new Date(0) });
    expect(() => renderStandardWebhook({ ...base, event: empty, secrets: [SECRET_A] })).toThrow(
      MissingEventPayloadError,
    );
  });
});
