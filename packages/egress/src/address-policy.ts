import ipaddr from "ipaddr.js";

export interface EgressPolicy {
  /** 127.0.0.0/8 and ::1 (local development). */
  allowLoopback: boolean;
  /** Private, loopback, link-local, CGNAT, unique-local: an app that calls its own network. */
  allowPrivate: boolean;
}

/** Nothing but the public internet: the default for an app that has not said otherwise. */
export const PUBLIC_ONLY: EgressPolicy = Object.freeze({ allowLoopback: false, allowPrivate: false });

/**
 * The policy for one app's calls to its business servers: the app's own `allowPrivateDestinations`,
 * and the process-wide loopback switch (DELIVERY_ALLOW_LOOPBACK) for local development.
 */
export function appEgressPolicy(
  app: { readonly allowPrivateDestinations: boolean },
  allowLoopback: boolean,
): EgressPolicy {
  return { allowLoopback, allowPrivate: app.allowPrivateDestinations };
}

export type AddressVerdict = { allowed: true } | { allowed: false; why: string };

// Ranges an app may reach only when it says it calls its own network.
const PRIVATE_RANGES = new Set(["private", "linkLocal", "carrierGradeNat", "uniqueLocal"]);

/**
 * Whether an IP (v4, v6, v4-mapped v6) may be connected to under the policy; `why` names the range.
 * Only ipaddr.js's `unicast` passes by default: every special-purpose range (unspecified,
 * 0.0.0.0/8, broadcast, multicast, reserved, benchmarking...) is refused whatever the policy.
 */
export function checkAddress(ip: string, policy: EgressPolicy): AddressVerdict {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(ip);
  } catch {
    return { allowed: false, why: `${ip} is not an IP address` };
  }
  return parsed.kind() === "ipv4"
    ? checkRange(ip, (parsed as ipaddr.IPv4).range(), policy)
    : checkIPv6(ip, parsed as ipaddr.IPv6, policy);
}

function checkIPv6(ip: string, address: ipaddr.IPv6, policy: EgressPolicy): AddressVerdict {
  const range = address.range();
  const embedded = embeddedIPv4(address, range);
  if (embedded.length > 0) {
    // The packet goes (or is translated) to the IPv4 inside, so that is what must pass.
    for (const v4 of embedded) {
      const verdict = checkRange(ip, v4.range(), policy);
      if (!verdict.allowed)
        return { allowed: false, why: `${verdict.why} (embedded ${v4.toString()}, ${range})` };
    }
    return { allowed: true };
  }
  if (isIPv4Compatible(address)) {
    return { allowed: false, why: `${ip} is an IPv4-compatible IPv6 address (deprecated)` };
  }
  return checkRange(ip, range, policy);
}

function checkRange(ip: string, range: string, policy: EgressPolicy): AddressVerdict {
  if (range === "unicast") return { allowed: true };
  if (range === "loopback" && (policy.allowLoopback || policy.allowPrivate)) return { allowed: true };
  if (PRIVATE_RANGES.has(range) && policy.allowPrivate) return { allowed: true };
  return { allowed: false, why: `${ip} is in the ${range} range` };
}

// RFC 4291 (mapped), RFC 6145/6052 (translation), RFC 3056 (6to4), RFC 4380 (Teredo).
function embeddedIPv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4[] {
  const bytes = address.toByteArray();
  const v4 = (b: number[]) => new ipaddr.IPv4(b);
  switch (range) {
    case "ipv4Mapped":
    case "rfc6145":
    case "rfc6052":
      return [v4(bytes.slice(12, 16))];
    case "6to4":
      return [v4(bytes.slice(2, 6))];
    case "teredo":
      // The server, and the client's public address stored with its bits inverted.
      return [v4(bytes.slice(4, 8)), v4(bytes.slice(12, 16).map((b) => b ^ 0xff))];
    default:
      return [];
  }
}

// ::a.b.c.d (other than :: and ::1, which ipaddr.js already names).
function isIPv4Compatible(address: ipaddr.IPv6): boolean {
  const parts = address.parts;
  return parts.slice(0, 6).every((p) => p === 0) && (parts[6] !== 0 || (parts[7] ?? 0) > 1);
}
