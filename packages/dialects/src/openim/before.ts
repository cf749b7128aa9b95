import type { BeforeOutcome } from "../dialect.js";
import { headerId } from "../header-id.js";
import { isJsonObject, type HttpRequestSpec, type JsonObject } from "../types.js";
import type { OpenImHook } from "./hooks.js";
import { applyOpenImModifications } from "./modifications.js";

/** "path": `{url}/{command}?contenttype=json` (OpenIM's server); "query": `{url}?command={command}&contenttype=json` (the seeds). */
export type UrlStyle = "path" | "query";

export interface OpenImBeforeInput {
  baseUrl: string;
  urlStyle: UrlStyle;
  command: string;
  operationId: string;
  payload: JsonObject;
}

export function renderOpenImBefore(input: OpenImBeforeInput): HttpRequestSpec {
  const { command, operationId } = input;
  // Keys the payload already has keep their position: a chat core payload may start with callbackCommand.
  const body = JSON.stringify({ ...input.payload, callbackCommand: command, operationID: operationId });
  return {
    method: "POST",
    url: openImUrl(input.baseUrl, input.urlStyle, command),
    // The body carries the operation id as it is; the header, in its header form.
    headers: { "content-type": "application/json", operationid: headerId(operationId) },
    body,
  };
}

function openImUrl(baseUrl: string, urlStyle: UrlStyle, command: string): string {
  const encoded = encodeURIComponent(command);
  if (urlStyle === "query") return `${withQuerySeparator(baseUrl)}command=${encoded}&contenttype=json`;
  // A query in the base URL stays a query: OpenIM would glue the command onto it and break routing.
  const queryAt = baseUrl.indexOf("?");
  const path = queryAt === -1 ? baseUrl : baseUrl.slice(0, queryAt);
  const query = queryAt === -1 ? "" : baseUrl.slice(queryAt);
  const trimmed = path.endsWith("/") ? path.slice(0, -1) : path;
  return `${withQuerySeparator(`${trimmed}/${encoded}${query}`)}contenttype=json`;
}

function withQuerySeparator(url: string): string {
  if (!url.includes("?")) return `${url}?`;
  return url.endsWith("?") || url.endsWith("&") ? url : `${url}&`;
}

export type { BeforeOutcome } from "../dialect.js";

const BODY_EXCERPT_CHARS = 200;

/**
 * Herald's reading of a before-hook response, stricter than OpenIM's: non-2xx, a body that is not a JSON
 * object, a field of the wrong type and actionCode != 0 are failed callbacks; nextCode 1 denies.
 */
export function interpretOpenImBefore(
  hook: OpenImHook,
  request: JsonObject,
  response: { status: number; body: string },
): BeforeOutcome {
  if (response.status < 200 || response.status > 299) {
    const detail = `HTTP ${response.status}: ${excerpt(response.body)}`;
    return { kind: "failed", failure: { reason: "status", status: response.status, detail } };
  }
  const parsed = parseObject(response.body);
  if (parsed === undefined) {
    return bodyFailure(`response is not a JSON object: ${excerpt(response.body)}`);
  }
  const codes = readCodes(parsed);
  if (typeof codes === "string") return bodyFailure(codes);
  if (codes.actionCode !== 0) {
    const detail = `actionCode ${codes.actionCode}: ${codes.errMsg}`;
    return { kind: "failed", failure: { reason: "action", actionCode: codes.actionCode, detail } };
  }
  if (codes.nextCode === 1) {
    return { kind: "deny", errCode: codes.errCode, errMsg: codes.errMsg, errDlt: codes.errDlt };
  }
  const modified = applyOpenImModifications(hook.key, request, parsed);
  if (!modified.ok) return bodyFailure(modified.detail);
  return modified.changed ? { kind: "modify", payload: modified.payload } : { kind: "continue" };
}

function bodyFailure(detail: string): BeforeOutcome {
  return { kind: "failed", failure: { reason: "body", detail } };
}

function excerpt(body: string): string {
  if (body === "") return "(empty body)";
  return body.length > BODY_EXCERPT_CHARS ? `${body.slice(0, BODY_EXCERPT_CHARS)}…` : body;
}

function parseObject(body: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

interface ResponseCodes {
  actionCode: number;
  nextCode: number;
  errCode: number;
  errMsg: string;
  errDlt: string;
}

/** The common response fields, or a message naming the first field of the wrong type. */
function readCodes(body: JsonObject): ResponseCodes | string {
  const actionCode = readLenientInteger(body, "actionCode");
  if (typeof actionCode === "string") return actionCode;
  const nextCode = readLenientInteger(body, "nextCode");
  if (typeof nextCode === "string") return nextCode;
  const errCode = readLenientInteger(body, "errCode");
  if (typeof errCode === "string") return errCode;
  const errMsg = readText(body, "errMsg");
  if (errMsg.ok === false) return errMsg.detail;
  const errDlt = readText(body, "errDlt");
  if (errDlt.ok === false) return errDlt.detail;
  return { actionCode, nextCode, errCode, errMsg: errMsg.value, errDlt: errDlt.value };
}

const INTEGER_STRING = /^-?\d+$/;

// The seeds' own examples send `"nextCode": ""`, so integers, integer strings, "" and null all pass.
function readLenientInteger(body: JsonObject, field: string): number | string {
  const value = body[field];
  if (value == null || value === "") return 0;
  if (Number.isSafeInteger(value)) return value as number;
  if (typeof value === "string" && INTEGER_STRING.test(value)) {
    const parsed = Number(value);
    if (Number.isSafeInteger(parsed)) return parsed;
  }
  return `${field} must be an integer, got ${JSON.stringify(value)}`;
}

function readText(
  body: JsonObject,
  field: string,
): { ok: true; value: string } | { ok: false; detail: string } {
  const value = body[field];
  if (value == null) return { ok: true, value: "" };
  if (typeof value === "string") return { ok: true, value };
  return { ok: false, detail: `${field} must be a string, got ${JSON.stringify(value)}` };
}
