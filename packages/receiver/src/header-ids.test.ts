import { describe, expect, it } from "vitest";
import { PayloadError } from "./errors.js";
import { decodeHeaderId, heraldDeliveryIds } from "./header-ids.js";

describe("decodeHeaderId", () => {
  it("reads ids back from their header form", () => {
    expect(decodeHeaderId("app1:u1:presence:3:mq")).toBe("app1:u1:presence:3:mq");
    expect(decodeHeaderId("app1:%E6%9D%8E%E5%9B%9B:presence:1:mq")).toBe("app1:李四:presence:1:mq");
    expect(decodeHeaderId("%F0%9F%99%82%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB")).toBe("🙂👩‍💻");
    expect(decodeHeaderId("msg%2E1")).toBe("msg.1");
  });

  it("throws PayloadError naming the header for a broken escape", () => {
    for (const bad of ["%E6%9D", "%zz", "50%"]) {
      const err: unknown = (() => {
        try {
          return decodeHeaderId(bad, "webhook-id");
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(PayloadError);
      expect((err as PayloadError).field).toBe("webhook-id");
    }
  });
});

describe("heraldDeliveryIds", () => {
  it("splits a batch's list and decodes each id; a comma inside an id was encoded", () => {
    const headers = {
      "herald-delivery-id": "a:%D9%85%D8%B3%D8%AA%D8%AE%D8%AF%D9%85:presence:1:rc, b%2Cc:rc",
    };
    expect(heraldDeliveryIds(headers)).toEqual(["a:مستخدم:presence:1:rc", "b,c:rc"]);
  });

  it("throws PayloadError when the header is missing", () => {
    expect(() => heraldDeliveryIds({})).toThrow(PayloadError);
  });
});
