import { PayloadError } from "./errors.js";
import { headerValues, type IncomingHeaders } from "./headers.js";

/** The header of every Herald delivery but Standard Webhooks' (which has webhook-id): its delivery id(s). */
export const HERALD_DELIVERY_ID_HEADER = "herald-delivery-id";

/**
 * The id behind a header value Herald wrote (`herald-delivery-id`, `webhook-id`, OpenIM's `operationID`):
 * Herald sends an id's UTF-8 bytes percent-encoded (RFC 3986), all but `A-Z a-z 0-9 - _ ~ :`, so ids of
 * those characters read as they are and `李四` arrives as `%E6%9D%8E%E5%9B%9B`. Throws PayloadError
 * (field `header`) for a broken escape (`%E6%9D`, `%zz`).
 */
export function decodeHeaderId(value: string, header = "id"): string {
  try {
    return decodeURIComponent(value);
  } catch (err) {
    throw new PayloadError(header, `${JSON.stringify(value)} is not percent-encoded UTF-8`, { cause: err });
  }
}

/** The delivery ids of a request, decoded: one, or a RongCloud batch's, in the order of its records. */
export function heraldDeliveryIds(headers: IncomingHeaders): string[] {
  const [value] = headerValues(headers, HERALD_DELIVERY_ID_HEADER);
  if (value === undefined || value === "") {
    throw new PayloadError(HERALD_DELIVERY_ID_HEADER, "no herald-delivery-id header");
  }
  return value.split(", ").map((id) => decodeHeaderId(id, HERALD_DELIVERY_ID_HEADER));
}
