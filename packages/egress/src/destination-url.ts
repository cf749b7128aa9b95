import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ValidationError } from "@herald/runtime";
import { checkAddress, type EgressPolicy } from "./address-policy.js";
import { DestinationRefusedError } from "./errors.js";

/**
 * URL pre-check for the admin API, so a bad endpoint is rejected when it is saved rather than
 * at its first delivery: http/https only, no userinfo, the host resolves and every address it
 * resolves to passes the policy. It does not replace the guarded agent, which checks again on
 * the address actually connected to (DNS answers change).
 *
 * Throws ValidationError (field "url") for a malformed URL, scheme, userinfo or a host that does
 * not resolve; DestinationRefusedError for an address the policy refuses.
 */
export async function checkDestinationUrl(url: string, policy: EgressPolicy): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ValidationError(`not a URL: ${url}`, { field: "url", cause: err });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ValidationError(`scheme ${parsed.protocol} is not allowed; use http or https`, {
      field: "url",
    });
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new ValidationError("a URL with user info is not allowed; put credentials in headers", {
      field: "url",
    });
  }
  await checkDestinationHost(unbracket(parsed.hostname), policy, "url");
}

/**
 * The host part of checkDestinationUrl, for a destination that is not an http URL (a gRPC hook
 * provider's target): it resolves, and every address passes the policy. Errors name `field`.
 */
export async function checkDestinationHost(host: string, policy: EgressPolicy, field: string): Promise<void> {
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "error";
      throw new ValidationError(`host ${host} does not resolve (${code})`, { field, cause: err });
    }
  }
  if (addresses.length === 0) throw new ValidationError(`host ${host} has no address`, { field });
  for (const address of addresses) {
    const verdict = checkAddress(address, policy);
    if (!verdict.allowed) {
      throw new DestinationRefusedError(`destination ${host} refused: ${verdict.why}`, { address });
    }
  }
}

/** URL and undici spell IPv6 hosts in brackets; checks and lookups want them bare. */
export function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
