import {
  decodeHeaderId,
  heraldDeliveryIds,
  parseMqttChat,
  parseOpenIm,
  parseRongCloudChatroomBatch,
  parseStandardWebhook,
  parseTencent,
  verifyRongCloud,
  verifyStandardWebhook,
  verifyTencent,
  type IncomingHeaders,
} from "@herald/receiver";
import { signingKnown, type DialectName, type EndpointSigning } from "./dialects.js";

export interface Callback {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHeaders;
  body: Buffer;
}

/** What the receiver makes of a callback: who sent it, whether the signature holds, what it says. */
export interface ReceivedCallback {
  deliveryIds: string[];
  /** "verified", "unsigned" (the dialect signs nothing), "not checked" (no secret known) or "failed". */
  signature: "verified" | "unsigned" | "not checked" | "failed";
  signatureError?: string;
  /** The body as the dialect's parser reads it, or the raw text when it is not what the parser expects. */
  payload: unknown;
  payloadError?: string;
  /** The HTTP answer that tells the deliverer "delivered" in this dialect. */
  answer: { status: number; body: string; contentType?: string };
}

interface DialectReceiver {
  /** Throws SignatureError; undefined when the dialect signs nothing. */
  verify?: (cb: Callback, signing: EndpointSigning) => void;
  parse: (cb: Callback, text: string) => unknown;
  ok: { status: number; body: string; contentType?: string };
}

const json = "application/json";

// What each dialect's business server answers and checks (packages/receiver; the deliverer's success rules).
const RECEIVERS: Readonly<Record<DialectName, DialectReceiver>> = {
  standard: {
    verify: (cb, s) =>
      verifyStandardWebhook({ headers: cb.headers, body: cb.body, secrets: [s.secret ?? ""] }),
    parse: (_cb, text) => parseStandardWebhook(text),
    ok: { status: 204, body: "" },
  },
  rongcloud: {
    verify: (cb, s) => verifyRongCloud({ url: cb.url, appSecret: s.secret ?? "", appKey: s.appKey }),
    parse: (_cb, text) => parseRongCloudChatroomBatch(text),
    ok: { status: 200, body: "" },
  },
  tencent: {
    verify: (cb, s) => void verifyTencent({ url: cb.url, sdkAppId: s.sdkAppId ?? "", token: s.secret }),
    parse: (cb, text) =>
      parseTencent(
        text,
        new URL(cb.url, "http://receiver.invalid").searchParams.get("CallbackCommand") ?? undefined,
      ),
    ok: {
      status: 200,
      body: JSON.stringify({ ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" }),
      contentType: json,
    },
  },
  openim: {
    parse: (cb, text) => parseOpenIm({ url: cb.url, headers: cb.headers, body: text }),
    ok: {
      status: 200,
      body: JSON.stringify({ actionCode: 0, errCode: 0, errMsg: "", errDlt: "", nextCode: 0 }),
      contentType: json,
    },
  },
  mqttchat: {
    parse: (_cb, text) => parseMqttChat(text),
    ok: { status: 200, body: "" },
  },
};

/**
 * Checks and reads one callback. A bad signature is answered 401 (as a real receiver must); a body the
 * parser does not expect is still answered as delivered, and shown as text with the parser's complaint.
 */
export function receiveCallback(
  cb: Callback,
  dialect: DialectName,
  signing: EndpointSigning | undefined,
): ReceivedCallback {
  const receiver = RECEIVERS[dialect];
  const text = cb.body.toString("utf8");
  const deliveryIds = idsOf(cb.headers);
  let signature: ReceivedCallback["signature"] = "unsigned";
  let signatureError: string | undefined;
  if (receiver.verify !== undefined) {
    if (signing === undefined || !signingKnown(dialect, signing)) signature = "not checked";
    else {
      try {
        receiver.verify(cb, signing);
        signature = "verified";
      } catch (err) {
        signature = "failed";
        signatureError = (err as Error).message;
      }
    }
  }
  let payload: unknown;
  let payloadError: string | undefined;
  try {
    payload = receiver.parse(cb, text);
  } catch (err) {
    payloadError = (err as Error).message;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = text;
    }
  }
  const answer =
    signature === "failed"
      ? { status: 401, body: JSON.stringify({ error: signatureError }), contentType: json }
      : receiver.ok;
  return {
    deliveryIds,
    signature,
    ...(signatureError === undefined ? {} : { signatureError }),
    payload,
    ...(payloadError === undefined ? {} : { payloadError }),
    answer,
  };
}

/** herald-delivery-id (a RongCloud batch names several), else Standard Webhooks' webhook-id. */
function idsOf(headers: IncomingHeaders): string[] {
  try {
    return heraldDeliveryIds(headers);
  } catch {
    const id = headers["webhook-id"];
    if (typeof id !== "string") return [];
    try {
      return [decodeHeaderId(id, "webhook-id")];
    } catch {
      return [id];
    }
  }
}
