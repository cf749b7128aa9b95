import { isJsonObject, type JsonObject } from "../types.js";

export type ModifiedFieldType =
  "string" | "integer" | "boolean" | "stringArray" | "objectArray" | "object" | "booleanMap";

/** How one response key of a before-hook changes the chat core's request payload. */
export type ModificationRule =
  /** `responseKey` replaces `requestKey` when non-null (or, with "nonEmpty", when not "" / []). */
  | {
      readonly kind: "replace";
      readonly responseKey: string;
      readonly requestKey: string;
      readonly type: ModifiedFieldType;
      readonly when: "nonNull" | "nonEmpty";
    }
  /** beforeOfflinePush: the object replaces `offlinePushInfo` and the six keys the request carries flattened. */
  | { readonly kind: "offlinePushInfo" }
  /** beforeMemberJoinGroup: each entry's non-null fields land on the `memberList` entry with the same userID. */
  | { readonly kind: "memberCallbackList" };

function replaced(
  type: ModifiedFieldType,
  keys: readonly string[],
  when: "nonNull" | "nonEmpty" = "nonNull",
): ModificationRule[] {
  return keys.map((key) => ({ kind: "replace", responseKey: key, requestKey: key, type, when }));
}

function renamed(responseKey: string, requestKey: string, type: ModifiedFieldType): ModificationRule {
  return { kind: "replace", responseKey, requestKey, type, when: "nonNull" };
}

const USER_INFO = replaced("string", ["nickName", "faceURL", "ex"]);
const CONVERSATION = [
  ...replaced("integer", ["recvMsgOpt", "burnDuration", "groupAtType"]),
  ...replaced("boolean", ["isPinned", "isPrivateChat"]),
  ...replaced("string", ["attachedInfo", "ex"]),
];
const GROUP_INFO_NUMBERS = replaced("integer", ["needVerification", "lookMemberInfo", "applyMemberFriend"]);

/**
 * What each before-hook's response may change (reference §4.4-4.13). Hooks not listed are veto-only.
 * Herald applies only non-null values, also where OpenIM overwrites unconditionally (beforeSetGroupInfo(Ex)).
 */
export const OPENIM_BEFORE_MODIFICATIONS: Readonly<Record<string, readonly ModificationRule[]>> = {
  beforeOfflinePush: [...replaced("stringArray", ["userIDList"], "nonEmpty"), { kind: "offlinePushInfo" }],
  beforeGroupOnlinePush: replaced("stringArray", ["userIDList"], "nonEmpty"),
  beforeMsgModify: [
    ...replaced("string", ["content", "recvID", "groupID", "clientMsgID", "serverMsgID", "senderNickname"]),
    ...replaced("integer", ["senderPlatformID", "sessionType", "msgFrom", "contentType", "status"]),
    renamed("senderFaceURL", "faceURL", "string"),
    ...replaced("booleanMap", ["options"]),
    ...replaced("object", ["offlinePushInfo"]),
    renamed("atUserIDList", "atUserList", "stringArray"),
    // msgDataList is declared by OpenIM but never applied.
    ...replaced("string", ["attachedInfo", "ex"]),
  ],
  beforeUpdateUserInfo: USER_INFO,
  beforeUpdateUserInfoEx: USER_INFO,
  beforeSetFriendRemark: replaced("string", ["remark"], "nonEmpty"),
  beforeImportFriends: replaced("stringArray", ["friendUserIDs"], "nonEmpty"),
  beforeUserRegister: replaced("objectArray", ["users"], "nonEmpty"),
  beforeCreateGroup: [
    ...replaced("string", [
      "groupID",
      "groupName",
      "notification",
      "introduction",
      "faceURL",
      "ownerUserID",
      "ex",
      "creatorUserID",
    ]),
    ...replaced("integer", ["status", "groupType", "needVerification", "lookMemberInfo"]),
  ],
  beforeMemberJoinGroup: [{ kind: "memberCallbackList" }],
  beforeSetGroupMemberInfo: [
    ...replaced("string", ["nickName", "faceURL", "ex"]),
    ...replaced("integer", ["roleLevel"]),
  ],
  beforeSetGroupInfo: [
    ...replaced("string", ["groupID", "groupName", "notification", "introduction", "faceURL", "ex"]),
    ...GROUP_INFO_NUMBERS,
  ],
  // OpenIM does not apply `notification` back for the Ex variant.
  beforeSetGroupInfoEx: [
    ...replaced("string", ["groupID", "groupName", "introduction", "faceURL", "ex"]),
    ...GROUP_INFO_NUMBERS,
  ],
  beforeCreateSingleChatConversations: CONVERSATION,
  beforeCreateGroupChatConversations: CONVERSATION,
};

export type ModificationResult =
  { ok: true; payload: JsonObject; changed: boolean } | { ok: false; detail: string };

/** Thrown inside this module only, to stop at the first field of the wrong type. */
class WrongFieldType extends Error {
  override readonly name = "WrongFieldType";
}

/** Applies a before-hook response's modifications to a copy of the request payload; never mutates either. */
export function applyOpenImModifications(
  hookKey: string,
  request: JsonObject,
  response: JsonObject,
): ModificationResult {
  const payload: JsonObject = { ...request };
  let changed = false;
  const set = (key: string, value: unknown): void => {
    if (!Object.hasOwn(payload, key) || !jsonEqual(payload[key], value)) changed = true;
    payload[key] = value;
  };
  try {
    for (const rule of OPENIM_BEFORE_MODIFICATIONS[hookKey] ?? []) {
      switch (rule.kind) {
        case "replace": {
          const value = response[rule.responseKey];
          if (value == null) break;
          checkType(rule.responseKey, value, rule.type);
          if (rule.when === "nonEmpty" && isEmpty(value)) break;
          set(rule.requestKey, value);
          break;
        }
        case "offlinePushInfo": {
          const info = response.offlinePushInfo;
          if (info == null) break;
          const normalized = normalizeOfflinePushInfo(info);
          for (const [key, value] of Object.entries(normalized)) set(key, value);
          set("offlinePushInfo", normalized);
          break;
        }
        case "memberCallbackList": {
          const merged = mergeMemberCallbacks(request.memberList, response.memberCallbackList);
          if (merged !== undefined) set("memberList", merged);
          break;
        }
      }
    }
  } catch (err) {
    if (err instanceof WrongFieldType) return { ok: false, detail: err.message };
    throw err;
  }
  return { ok: true, payload, changed };
}

function checkType(field: string, value: unknown, type: ModifiedFieldType): void {
  if (!fitsType(value, type)) {
    throw new WrongFieldType(`${field} must be ${DESCRIPTIONS[type]}, got ${JSON.stringify(value)}`);
  }
}

function fitsType(value: unknown, type: ModifiedFieldType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return Number.isSafeInteger(value);
    case "boolean":
      return typeof value === "boolean";
    case "stringArray":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "objectArray":
      return Array.isArray(value) && value.every(isJsonObject);
    case "object":
      return isJsonObject(value);
    case "booleanMap":
      return isJsonObject(value) && Object.values(value).every((item) => typeof item === "boolean");
  }
}

const DESCRIPTIONS: Readonly<Record<ModifiedFieldType, string>> = {
  string: "a string",
  integer: "an integer",
  boolean: "a boolean",
  stringArray: "an array of strings",
  objectArray: "an array of objects",
  object: "an object",
  booleanMap: "an object of booleans",
};

function isEmpty(value: unknown): boolean {
  return value === "" || (Array.isArray(value) && value.length === 0);
}

const OFFLINE_PUSH_STRINGS = ["title", "desc", "ex", "iOSPushSound"] as const;

// OpenIM decodes the object into a struct and replaces the whole thing, so absent keys become zero values.
function normalizeOfflinePushInfo(info: unknown): JsonObject {
  checkType("offlinePushInfo", info, "object");
  const source = info as JsonObject;
  const field = (key: string, type: "string" | "boolean", zero: string | boolean): unknown => {
    const value = source[key];
    if (value == null) return zero;
    checkType(`offlinePushInfo.${key}`, value, type);
    return value;
  };
  const normalized: JsonObject = {};
  for (const key of OFFLINE_PUSH_STRINGS) normalized[key] = field(key, "string", "");
  normalized.iOSBadgeCount = field("iOSBadgeCount", "boolean", false);
  normalized.signalInfo = field("signalInfo", "string", "");
  return normalized;
}

const MEMBER_FIELDS: ReadonlyArray<readonly [string, ModifiedFieldType]> = [
  ["nickname", "string"],
  ["faceURL", "string"],
  ["roleLevel", "integer"],
  ["muteEndTime", "integer"],
  ["ex", "string"],
];

// Returns the new memberList, or undefined when the response has no memberCallbackList.
function mergeMemberCallbacks(memberList: unknown, callbacks: unknown): unknown[] | undefined {
  if (callbacks == null) return undefined;
  checkType("memberCallbackList", callbacks, "objectArray");
  const byUserId = new Map<string, JsonObject>();
  (callbacks as JsonObject[]).forEach((entry, index) => {
    const userId = entry.userID;
    // OpenIM dereferences userID unconditionally (a panic there); Herald calls it a bad body.
    if (typeof userId !== "string") {
      throw new WrongFieldType(`memberCallbackList[${index}].userID must be a string`);
    }
    for (const [key, type] of MEMBER_FIELDS) {
      const value = entry[key];
      if (value != null) checkType(`memberCallbackList[${index}].${key}`, value, type);
    }
    byUserId.set(userId, entry);
  });
  if (!Array.isArray(memberList)) return undefined;
  return memberList.map((member: unknown) => {
    if (!isJsonObject(member) || typeof member.userID !== "string") return member;
    const entry = byUserId.get(member.userID);
    if (entry === undefined) return member;
    const updated: JsonObject = { ...member };
    for (const [key] of MEMBER_FIELDS) if (entry[key] != null) updated[key] = entry[key];
    return updated;
  });
}

/** Structural equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]))
    );
  }
  return false;
}
