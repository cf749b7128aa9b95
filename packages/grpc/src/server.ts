import {
  Server,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "@herald/runtime";
import { unimplemented } from "./errors.js";
import { withWireChecks } from "./wire-check.js";
import { serverCredentials, type GrpcServerSecurity } from "./security.js";
import { requireToken } from "./token.js";
import { grpcHealth, HEALTH_SERVICE } from "./health.js";
import { REFLECTION_SERVICES, reflectionService, serviceName } from "./reflection.js";

export interface GrpcServer {
  readonly address: string;
  readonly port: number;
  /** Stops taking calls and waits for those in flight; forces the rest closed when signal aborts. */
  shutdown(signal: AbortSignal): Promise<void>;
}

export interface GrpcServices {
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

/**
 * Serves `services` on host:port (0: any free port), with TLS, client certificates and a token on
 * every method as `security` says (see grpcServerSecurity). Beside them: grpc.health.v1.Health, open
 * without the token (probes carry none) and SERVING while `ready`, and, given a descriptor set,
 * server reflection (v1 and v1alpha) listing exactly the services served here, behind the token.
 */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  /** Largest message received or sent (grpc-js's default when absent: 4 MiB in). */
  maxMessageBytes?: number;
  security?: GrpcServerSecurity;
  services: GrpcServices[];
  /** The service's readiness (what /readyz answers); absent: ready while the server runs. */
  ready?: () => Promise<boolean>;
  /** A serialized FileDescriptorSet describing `services` (heraldDescriptorSet()): turns reflection on. */
  descriptorSet?: Uint8Array;
  log: Logger;
}): Promise<GrpcServer> {
  const security = opts.security ?? {};
  const served = [
    ...opts.services.map((s) => serviceName(s.definition)),
    HEALTH_SERVICE,
    ...(opts.descriptorSet === undefined ? [] : REFLECTION_SERVICES),
  ];
  // Built before the server, so a descriptor set that lacks a service stops the start.
  const reflection =
    opts.descriptorSet === undefined ? undefined : reflectionService(opts.descriptorSet, served);
  const health = grpcHealth({
    services: served,
    ready: opts.ready ?? (() => Promise.resolve(true)),
    log: opts.log,
  });
  const server = new Server({
    // Channelz keeps per-call statistics for a debugging service Herald does not serve: CPU on every call.
    "grpc.enable_channelz": 0,
    ...(opts.maxMessageBytes !== undefined && {
      "grpc.max_receive_message_length": opts.maxMessageBytes,
      "grpc.max_send_message_length": opts.maxMessageBytes,
    }),
    interceptors:
      security.token === undefined
        ? []
        : [requireToken(security.token, (path) => path.startsWith(`/${HEALTH_SERVICE}/`))],
  });
  for (const s of opts.services) {
    const checked = withWireChecks(s.definition, s.implementation);
    server.addService(checked.definition, checked.implementation);
  }
  // Not through the wire checks: their messages are proto-loader's, decoded from bytes, not ts-proto's.
  server.addService(health.definition, health.implementation);
  reflection?.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, serverCredentials(security), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  const secured = {
    tls: security.tls !== undefined,
    clientCertificates: security.tls?.clientCa !== undefined,
    token: security.token !== undefined,
  };
  if (!secured.token && !secured.clientCertificates && !isLoopback(opts.host)) {
    opts.log.warn(
      { grpcHost: opts.host, ...secured },
      "gRPC port open to the network with no authentication: set GRPC_AUTH_TOKEN or GRPC_TLS_CLIENT_CA_FILE",
    );
  } else {
    opts.log.info({ grpcHost: opts.host, ...secured }, "gRPC port security");
  }
  return {
    address: `${opts.host}:${port}`,
    port,
    shutdown: (signal) =>
      new Promise<void>((resolve) => {
        const force = () => {
          opts.log.warn("grpc calls still open at the deadline: closing them");
          server.forceShutdown();
          resolve();
        };
        // Watchers hear NOT_SERVING and their calls end: open, they would hold up tryShutdown.
        health.drain();
        if (signal.aborted) return force();
        signal.addEventListener("abort", force, { once: true });
        server.tryShutdown(() => {
          signal.removeEventListener("abort", force);
          resolve();
        });
      }),
  };
}

/** A service whose every method answers UNIMPLEMENTED. */
export function unimplementedService(name: string, definition: ServiceDefinition): GrpcServices {
  const implementation: UntypedServiceImplementation = {};
  for (const method of Object.keys(definition)) {
    implementation[method] = (_call: unknown, callback: sendUnaryData<unknown>) =>
      callback(unimplemented(`${name}.${method}`));
  }
  return { definition, implementation };
}

/** Whether `host` is reachable only from this machine (a loopback address or localhost). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d+\.\d+\.\d+$/.test(bare);
}
