// KV keys are tokens joined by ".": every id Herald puts in a key goes through this encoding.

const PLAIN = /^[A-Za-z0-9_-]$/;

/** One KV key token for any non-empty string: [A-Za-z0-9_-] stay, every other UTF-8 byte becomes =XX. */
export function encodeKeyToken(value: string): string {
  let out = "";
  for (const ch of value) {
    if (PLAIN.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, "utf8")) out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/** The inverse of encodeKeyToken. */
export function decodeKeyToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === "=") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
