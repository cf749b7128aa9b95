import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP, type LookupFunction, type Socket } from "node:net";
import { Agent, buildConnector } from "undici";
import { checkAddress, type EgressPolicy } from "./address-policy.js";
import { unbracket } from "./destination-url.js";
import { DestinationRefusedError } from "./errors.js";

declare const guarded: unique symbol;

/**
 * An undici Agent made by createGuardedAgent: the only dispatcher callBusinessServer takes, so no
 * call to a business server can go out unchecked.
 */
export type GuardedAgent = Agent & { readonly [guarded]: true };

export interface GuardedAgentOptions {
  /** Keep-alive connections per origin (undici's `connections`; default unlimited). */
  connections?: number;
  /** How long an idle keep-alive connection stays open (default 30 s). */
  keepAliveTimeoutMs?: number;
}

/**
 * An undici Agent whose every connection is checked on the address actually connected to:
 * names are resolved at connect time and refused addresses dropped (so a DNS answer that changed
 * since an earlier check cannot slip through), IP literals are checked before connecting, and
 * the socket's remote address is checked once connected, before any request byte is written.
 * A refusal fails the request with DestinationRefusedError (possibly wrapped; see
 * callBusinessServer, which reports it as reason "refused").
 */
export function createGuardedAgent(policy: EgressPolicy, opts: GuardedAgentOptions = {}): GuardedAgent {
  const connector = buildConnector({ lookup: guardedLookup(policy) });
  const connect: buildConnector.connector = (options, callback) => {
    const host = unbracket(options.hostname);
    if (isIP(host) !== 0) {
      const verdict = checkAddress(host, policy);
      if (!verdict.allowed) {
        callback(refused(host, host, verdict.why), null);
        return;
      }
    }
    connector(options, (err, socket) => {
      if (err !== null) {
        callback(err, null);
        return;
      }
      const refusal = checkConnectedSocket(socket, host, policy);
      if (refusal) callback(refusal, null);
      else callback(null, socket);
    });
  };
  return new Agent({
    connect,
    keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
    ...(opts.connections === undefined ? {} : { connections: opts.connections }),
  }) as GuardedAgent;
}

/**
 * The last check, on the address the socket is actually connected to: destroys the socket and
 * returns the refusal when the policy refuses it, before any request byte is written.
 */
export function checkConnectedSocket(
  socket: Pick<Socket, "remoteAddress" | "destroy">,
  host: string,
  policy: EgressPolicy,
): DestinationRefusedError | undefined {
  const address = socket.remoteAddress;
  const verdict = address === undefined ? undefined : checkAddress(address, policy);
  if (verdict?.allowed === true) return undefined;
  socket.destroy();
  return refused(host, address, verdict?.why ?? "the socket has no remote address");
}

/** A net `lookup` that resolves every address and keeps only those the policy allows. */
export function guardedLookup(policy: EgressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, []);
        return;
      }
      const reasons: string[] = [];
      const allowed = addresses.filter((a) => {
        const verdict = checkAddress(a.address, policy);
        if (!verdict.allowed) reasons.push(verdict.why);
        return verdict.allowed;
      });
      const first = allowed[0];
      if (first === undefined) {
        callback(refused(hostname, addresses[0]?.address, reasons.join("; ") || "no address"), []);
      } else if (options.all === true) {
        callback(null, allowed);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}

function refused(host: string, address: string | undefined, why: string): DestinationRefusedError {
  return new DestinationRefusedError(`destination ${host} refused: ${why}`, {
    ...(address === undefined ? {} : { address }),
  });
}
