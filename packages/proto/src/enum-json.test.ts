import { describe, expect, it } from "vitest";
import { DecisionSource, OfflineReason, UserStatus } from "./index.js";
import { enumChoices, enumFromJson } from "./enum-json.js";

describe("enumFromJson", () => {
  it("takes the number, the full name and the short name, in any case", () => {
    for (const given of [
      1,
      "1",
      "OFFLINE_REASON_LOGOUT",
      "offline_reason_logout",
      "LOGOUT",
      "logout",
      "Logout",
    ]) {
      expect({ given, value: enumFromJson(OfflineReason, given) }).toEqual({
        given,
        value: OfflineReason.OFFLINE_REASON_LOGOUT,
      });
    }
    expect(enumFromJson(UserStatus, "online")).toBe(UserStatus.USER_STATUS_ONLINE);
    // A prefix that is itself the start of another enum's prefix.
    expect(enumFromJson(DecisionSource, "BREAKER_OPEN")).toBe(DecisionSource.DECISION_SOURCE_BREAKER_OPEN);
  });

  it("refuses what is not a value: unknown names and numbers, UNRECOGNIZED, other types", () => {
    for (const given of ["AWAY", 9, -1, "UNRECOGNIZED", "OFFLINE_REASON_", "", 1.5, null, true, {}]) {
      expect({ given, value: enumFromJson(OfflineReason, given) }).toEqual({ given, value: undefined });
    }
  });

  it("says what it takes", () => {
    expect(enumChoices(OfflineReason)).toBe(
      "UNSPECIFIED (0), LOGOUT (1), DISCONNECT (2), TIMEOUT (3), KICKED (4)",
    );
  });
});
