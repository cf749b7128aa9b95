import { isJsonObject, type JsonObject } from "../types.js";

/** A passthrough event whose payload_json is not a JSON object: the chat core published a bad payload. */
export class InvalidPassthroughPayloadError extends Error {
  override readonly name = "InvalidPassthroughPayloadError";
  readonly eventId: string;

  constructor(eventId: string, detail: string, options?: ErrorOptions) {
    super(`event ${JSON.stringify(eventId)}: passthrough payload_json ${detail}`, options);
    this.eventId = eventId;
  }
}

/** The JSON object of a passthrough event's payload_json; throws InvalidPassthroughPayloadError. */
export function parsePassthroughPayload(eventId: string, payloadJson: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(payloadJson);
  } catch (error) {
    throw new InvalidPassthroughPayloadError(eventId, "is not JSON", { cause: error });
  }
  if (!isJsonObject(value)) throw new InvalidPassthroughPayloadError(eventId, "is not a JSON object");
  return value;
}
