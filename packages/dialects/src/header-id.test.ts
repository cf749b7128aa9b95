import { describe, expect, it } from "vitest";
import { deliveryIdHeader, headerId } from "./header-id.js";

// A legal HTTP field value (RFC 9110): visible ASCII, spaces and tabs; Herald's header ids have no space.
const TOKEN_SAFE = /^[A-Za-z0-9\-_~:%]*$/;

describe("headerId", () => {
  it("leaves ids of A-Z a-z 0-9 - _ ~ : as they are", () => {
    expect(headerId("app_1:user-42:presence:7:ep~1")).toBe("app_1:user-42:presence:7:ep~1");
  });

  it("percent-encodes the UTF-8 bytes of CJK, emoji and RTL ids", () => {
    expect(headerId("李四")).toBe("%E6%9D%8E%E5%9B%9B");
    expect(headerId("🙂👩‍💻")).toBe("%F0%9F%99%82%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB");
    expect(headerId("مستخدم")).toBe("%D9%85%D8%B3%D8%AA%D8%AE%D8%AF%D9%85");
  });

  it("encodes '.' (Standard Webhooks forbids it in webhook-id), ',' (batch lists), '%' and spaces", () => {
    expect(headerId("john.doe")).toBe("john%2Edoe");
    expect(headerId("a,b")).toBe("a%2Cb");
    expect(headerId("50% off")).toBe("50%25%20off");
    expect(headerId("a\r\nb")).toBe("a%0D%0Ab");
  });

  it("round-trips through decodeURIComponent, whatever the id", () => {
    const ids = ["李四", "🙂👩‍💻", "مستخدم", "a.b,c;d/e?f#g&h=i+j k", "é\u0000\u007f", "x".repeat(300)];
    for (const id of ids) {
      expect(headerId(id)).toMatch(TOKEN_SAFE);
      expect(decodeURIComponent(headerId(id))).toBe(id);
    }
  });

  it("writes a lone surrogate as U+FFFD instead of throwing", () => {
    expect(headerId("a\ud800b")).toBe("a%EF%BF%BDb");
  });
});

describe("deliveryIdHeader", () => {
  it("lists a batch's ids in their header form, separated by ', '", () => {
    expect(deliveryIdHeader(["e1:rc", "a:李四:presence:1:rc"])).toStrictEqual({
      "herald-delivery-id": "e1:rc, a:%E6%9D%8E%E5%9B%9B:presence:1:rc",
    });
  });
});
