import { createHash, timingSafeEqual } from "node:crypto";

// One reading of `Authorization: Bearer <token>` for the admin API and the gRPC ports alike.
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The token of an `Authorization: Bearer <token>` value, or undefined when it is not one. */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1];
}

/** A secret as it is kept for comparison: its SHA-256, so every comparison is of equal lengths. */
export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/** Whether `presented` is the token behind `expected`, in time independent of where they differ. */
export function tokenMatches(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(tokenDigest(presented), expected);
}
