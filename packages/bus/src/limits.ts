/**
 * Room, in one NATS message, for what a dead delivery's attempt record carries besides its event:
 * the request and response bodies, URL and error (each truncated to ATTEMPT_BODY_LIMIT characters,
 * at most 6 bytes each once JSON-escaped), ids and headers. A delivery job's headers fit in it too.
 */
const RECORD_ROOM_BYTES = 128 * 1024;

/**
 * The largest event (protobuf-encoded, as stored) or before-hook payload_json (UTF-8 bytes) the
 * gateway accepts, for a NATS server whose max_payload is `messageLimit`. The tightest place an
 * event goes is a dead delivery's attempt record, which carries it as base64 (4 bytes per 3) so the
 * record alone can replay it; EVENTS and DELIVERIES carry it as it is, the evaluator's request with
 * an envelope of a few hundred bytes. One limit for both, so there is one number to document.
 */
export function largestPayloadBytes(messageLimit: number): number {
  return Math.floor(((messageLimit - RECORD_ROOM_BYTES) * 3) / 4);
}
