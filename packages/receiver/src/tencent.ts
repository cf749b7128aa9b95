import { createHash } from "node:crypto";
import { z } from "zod";
import { bytesEqual } from "./constant-time.js";
import { PayloadError, SignatureError } from "./errors.js";
import { parseJson, validate } from "./parse-json.js";

export interface VerifyTencentInput {
  /** The request URL as received (path + query is enough): Tencent's parameters travel in its query. */
  url: string;
  /** Your SDKAppID: the query's SdkAppid must equal it (Tencent tells receivers to check). */
  sdkAppId: string | number;
  /** The callback token when authentication is on; several during rotation, any match passes. Absent: no sign checked. */
  token?: string | readonly string[];
  nowMs?: number;
  /** Tencent's rule: reject when |now - RequestTime| is over a minute. */
  toleranceMs?: number;
}

/** What the query says about the callback. */
export interface TencentCallbackQuery {
  sdkAppId: string;
  command: string;
  clientIp: string;
  optPlatform: string;
  /** Unix seconds; undefined when the request is not signed. */
  requestTime?: number;
}

const DEFAULT_TOLERANCE_MS = 60_000;

function param(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === "") throw new SignatureError("missing", `no ${name} query parameter`);
  return value;
}

/**
 * Verifies a Tencent Cloud IM callback: SdkAppid is yours and, with a token, Sign = hex(sha256(token +
 * RequestTime)) within a minute of now. The sign does not cover the body: it authenticates the sender
 * (and the time), not the content. Returns the query's callback facts.
 */
export function verifyTencent(input: VerifyTencentInput): TencentCallbackQuery {
  const query = new URL(input.url, "http://receiver.invalid").searchParams;
  const sdkAppId = param(query, "SdkAppid");
  if (sdkAppId !== String(input.sdkAppId)) throw new SignatureError("mismatch", "SdkAppid is not yours");
  const facts: TencentCallbackQuery = {
    sdkAppId,
    command: param(query, "CallbackCommand"),
    clientIp: query.get("ClientIP") ?? "",
    optPlatform: query.get("OptPlatform") ?? "",
  };
  if (input.token === undefined) return facts;
  const tokens = typeof input.token === "string" ? [input.token] : input.token;
  if (tokens.length === 0) throw new TypeError("verifyTencent needs at least one token when token is given");

  const requestTime = param(query, "RequestTime");
  const sign = param(query, "Sign");
  if (!/^\d{1,12}$/.test(requestTime))
    throw new SignatureError("malformed", "RequestTime is not unix seconds");
  if (!/^[0-9a-fA-F]{64}$/.test(sign)) throw new SignatureError("malformed", "Sign is not 64 hex");

  const sentAtMs = Number(requestTime) * 1000;
  const now = input.nowMs ?? Date.now();
  const tolerance = input.toleranceMs ?? DEFAULT_TOLERANCE_MS;
  if (now - sentAtMs > tolerance) {
    throw new SignatureError("stale", `RequestTime ${requestTime} is older than ${tolerance}ms`);
  }
  if (sentAtMs - now > tolerance) {
    throw new SignatureError("future", `RequestTime ${requestTime} is ahead by over ${tolerance}ms`);
  }

  const received = Buffer.from(sign.toLowerCase(), "hex");
  let matched = false;
  for (const token of tokens) {
    const expected = createHash("sha256").update(`${token}${requestTime}`, "utf8").digest();
    if (bytesEqual(received, expected)) matched = true;
  }
  if (!matched) throw new SignatureError("mismatch", "Sign matches no token");
  return { ...facts, requestTime: Number(requestTime) };
}

const msgElement = z.object({ MsgType: z.string().min(1), MsgContent: z.record(z.string(), z.unknown()) });
const member = z.object({ Member_Account: z.string() });

const stateChange = z.object({
  CallbackCommand: z.literal("State.StateChange"),
  EventTime: z.number().int(),
  Info: z.object({
    Action: z.string().min(1),
    To_Account: z.string(),
    Reason: z.string(),
  }),
  KickedDevice: z.array(z.object({ Platform: z.string() })).optional(),
});
const c2cMessage = z.object({
  CallbackCommand: z.enum(["C2C.CallbackBeforeSendMsg", "C2C.CallbackAfterSendMsg"]),
  From_Account: z.string(),
  To_Account: z.string(),
  MsgSeq: z.number().int(),
  MsgRandom: z.number().int(),
  MsgTime: z.number().int(),
  MsgKey: z.string().optional(),
  MsgId: z.string().optional(),
  MsgBody: z.array(msgElement),
  CloudCustomData: z.string().optional(),
  EventTime: z.number().int().optional(),
});
const groupMessage = z.object({
  CallbackCommand: z.enum(["Group.CallbackBeforeSendMsg", "Group.CallbackAfterSendMsg"]),
  GroupId: z.string().min(1),
  From_Account: z.string(),
  Operator_Account: z.string().optional(),
  Random: z.number().int().optional(),
  MsgSeq: z.number().int().optional(),
  MsgTime: z.number().int().optional(),
  MsgBody: z.array(msgElement),
  CloudCustomData: z.string().optional(),
  EventTime: z.number().int().optional(),
});
const memberJoin = z.object({
  CallbackCommand: z.literal("Group.CallbackAfterNewMemberJoin"),
  GroupId: z.string().min(1),
  JoinType: z.string(),
  Operator_Account: z.string(),
  NewMemberList: z.array(member),
  EventTime: z.number().int().optional(),
});
const memberExit = z.object({
  CallbackCommand: z.literal("Group.CallbackAfterMemberExit"),
  GroupId: z.string().min(1),
  ExitType: z.string(),
  Operator_Account: z.string(),
  ExitMemberList: z.array(member),
  EventTime: z.number().int().optional(),
});

export type TencentStateChange = z.output<typeof stateChange>;
export type TencentC2CMessage = z.output<typeof c2cMessage>;
export type TencentGroupMessage = z.output<typeof groupMessage>;
export type TencentMemberJoin = z.output<typeof memberJoin>;
export type TencentMemberExit = z.output<typeof memberExit>;
export type TencentCallback =
  TencentStateChange | TencentC2CMessage | TencentGroupMessage | TencentMemberJoin | TencentMemberExit;

const BY_COMMAND: Readonly<Record<string, z.ZodType<TencentCallback>>> = {
  "State.StateChange": stateChange,
  "C2C.CallbackBeforeSendMsg": c2cMessage,
  "C2C.CallbackAfterSendMsg": c2cMessage,
  "Group.CallbackBeforeSendMsg": groupMessage,
  "Group.CallbackAfterSendMsg": groupMessage,
  "Group.CallbackAfterNewMemberJoin": memberJoin,
  "Group.CallbackAfterMemberExit": memberExit,
};

/**
 * Parses a Tencent callback body Herald sends (State.StateChange, C2C/Group send, group member join/exit).
 * `command`, when given (the query's CallbackCommand), must equal the body's.
 */
export function parseTencent(body: string, command?: string): TencentCallback {
  const value = parseJson(body);
  const named =
    typeof value === "object" && value !== null
      ? (value as Record<string, unknown>)["CallbackCommand"]
      : undefined;
  if (typeof named !== "string")
    throw new PayloadError("CallbackCommand", "Tencent callback has no CallbackCommand");
  if (command !== undefined && named !== command) {
    throw new PayloadError(
      "CallbackCommand",
      `body says "${named}" but the URL's CallbackCommand is "${command}"`,
    );
  }
  const schema = BY_COMMAND[named];
  if (schema === undefined) throw new PayloadError("CallbackCommand", `unknown command "${named}"`);
  return validate(schema, value, `Tencent ${named}`);
}
