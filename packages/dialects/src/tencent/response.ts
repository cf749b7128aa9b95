import { isJsonObject, type JsonObject } from "../types.js";

/** Tencent's common answer: `{"ActionStatus":"OK"|"FAIL","ErrorCode":0,"ErrorInfo":""}`. */
export interface TencentAnswer {
  actionStatus: string;
  errorCode: number;
  errorInfo: string;
  body: JsonObject;
}

const INTEGER_STRING = /^-?\d+$/;

/**
 * The answer's fields, or why they cannot be read: the body is not a JSON object, or ErrorCode is no
 * integer (an integer string passes), or ActionStatus / ErrorInfo no string. Left out: "", 0, "".
 */
export function readTencentAnswer(text: string): TencentAnswer | string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `response is not JSON: ${excerpt(text)}`;
  }
  if (!isJsonObject(body)) return `response is not a JSON object: ${excerpt(text)}`;
  const code = body["ErrorCode"];
  let errorCode: number;
  if (code == null) errorCode = 0;
  else if (Number.isSafeInteger(code)) errorCode = code as number;
  else if (typeof code === "string" && INTEGER_STRING.test(code) && Number.isSafeInteger(Number(code)))
    errorCode = Number(code);
  else return `ErrorCode must be an integer, got ${JSON.stringify(code)}`;
  const actionStatus = body["ActionStatus"] ?? "";
  if (typeof actionStatus !== "string")
    return `ActionStatus must be a string, got ${JSON.stringify(actionStatus)}`;
  const errorInfo = body["ErrorInfo"] ?? "";
  if (typeof errorInfo !== "string") return `ErrorInfo must be a string, got ${JSON.stringify(errorInfo)}`;
  return { actionStatus, errorCode, errorInfo, body };
}

const EXCERPT_CHARS = 200;

export function excerpt(body: string): string {
  if (body === "") return "(empty body)";
  return body.length > EXCERPT_CHARS ? `${body.slice(0, EXCERPT_CHARS)}…` : body;
}
