import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { grpcClientSecurity, grpcClientSetup } from "@herald/grpc";
import {
  HeraldServiceClient,
  PublishRequest,
  type BeforeRequest,
  type BeforeResponse,
  type Event,
  type PublishResponse,
} from "@herald/proto";
import { RefusedError, UnreachableError, UsageError } from "./errors.js";
import type { Target } from "./target.js";

/**
 * The chat core's client of the gateway. TLS and the token come from HERALD_GRPC_TLS_CA_FILE,
 * _CERT_FILE, _KEY_FILE and HERALD_GRPC_AUTH_TOKEN, or the server's own GRPC_AUTH_TOKEN in the same shell.
 */
export function heraldClient(target: Target, env: NodeJS.ProcessEnv = process.env): HeraldServiceClient {
  let security;
  try {
    security = grpcClientSecurity(
      { ...env, HERALD_GRPC_AUTH_TOKEN: env["HERALD_GRPC_AUTH_TOKEN"] ?? target.grpcToken },
      "HERALD_GRPC",
    );
  } catch (err) {
    const field = (err as { field?: string }).field ?? "HERALD_GRPC_TLS_CA_FILE";
    throw new UsageError(field, (err as Error).message, { cause: err });
  }
  const setup = grpcClientSetup(security);
  return new HeraldServiceClient(target.grpc, setup.credentials, setup.options);
}

// A Herald that is not there should say so soon, not after grpc-js's default of waiting for ever.
const CALL_DEADLINE_MS = 30_000;

export function publish(
  client: HeraldServiceClient,
  target: Target,
  events: Event[],
): Promise<PublishResponse> {
  return new Promise((resolve, reject) =>
    client.publish(
      PublishRequest.fromPartial({ events }),
      new Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err: ServiceError | null, res) => (err ? reject(grpcFailure(err, target)) : resolve(res)),
    ),
  );
}

export function before(
  client: HeraldServiceClient,
  target: Target,
  req: BeforeRequest,
): Promise<BeforeResponse> {
  return new Promise((resolve, reject) =>
    client.before(
      req,
      new Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err: ServiceError | null, res) => (err ? reject(grpcFailure(err, target)) : resolve(res)),
    ),
  );
}

/** A gRPC status as the CLI reports it: unreachable, or refused with the gateway's message (which names the field). */
function grpcFailure(err: ServiceError, target: Target): Error {
  if (err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED) {
    const why = /connect (E[A-Z]+)/.exec(err.details)?.[1] ?? err.details;
    return new UnreachableError(
      `cannot reach the gateway at ${target.grpc} (from ${target.from.grpc}): ${why}`,
      {
        cause: err,
      },
    );
  }
  const name = status[err.code] ?? String(err.code);
  const field = /^([\w.[\]]+): /.exec(err.details)?.[1];
  return new RefusedError(name, `${name}: ${err.details}`, field, { cause: err });
}
