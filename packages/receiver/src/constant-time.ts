import { timingSafeEqual } from "node:crypto";

/** Constant-time equality; unequal lengths are a plain mismatch (lengths are not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
