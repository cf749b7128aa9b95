/**
 * How Herald writes an id (user, room, event, delivery, operation) into an HTTP header, since a header
 * value may only hold visible ASCII and ids are any Unicode: the id's UTF-8 bytes, each percent-encoded
 * (RFC 3986, `%XX`) except `A-Z a-z 0-9 - _ ~ :`. Ids made of those read as they are; `李四` becomes
 * `%E6%9D%8E%E5%9B%9B`; a receiver gets the id back with decodeURIComponent (@herald/receiver's
 * decodeHeaderId). "." is encoded too, because Standard Webhooks forbids it in webhook-id; "," so that
 * a RongCloud batch's list of ids splits unambiguously.
 */
export function headerId(id: string): string {
  let out = "";
  // TextEncoder turns a lone surrogate into U+FFFD rather than throwing as encodeURIComponent would.
  for (const byte of UTF8.encode(id)) {
    out += KEPT[byte] === 1 ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/** The header of every delivery but Standard Webhooks' (which has webhook-id): the delivery id(s). */
const DELIVERY_ID_HEADER = "herald-delivery-id";

/**
 * The delivery-id header of a request: one id, or a batch's ids in the order of its records, each in
 * its header form and separated by ", ".
 */
export function deliveryIdHeader(deliveryIds: readonly string[]): Record<typeof DELIVERY_ID_HEADER, string> {
  return { [DELIVERY_ID_HEADER]: deliveryIds.map(headerId).join(", ") };
}

const UTF8 = new TextEncoder();
const HEX = "0123456789ABCDEF";
const KEPT = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~:")
  KEPT[c.charCodeAt(0)] = 1;
