import {
  Server,
  ServerCredentials,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { Logger } from "@herald/runtime";
import { unimplemented } from "./errors.js";
import { withWireChecks } from "./wire-check.js";

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

/** Serves `services` on host:port (0: any free port). */
export async function startGrpcServer(opts: {
  host: string;
  port: number;
  /** Largest message received or sent (grpc-js's default when absent: 4 MiB in). */
  maxMessageBytes?: number;
  services: GrpcServices[];
  log: Logger;
}): Promise<GrpcServer> {
  const server = new Server(
    opts.maxMessageBytes === undefined
      ? {}
      : {
          "grpc.max_receive_message_length": opts.maxMessageBytes,
          "grpc.max_send_message_length": opts.maxMessageBytes,
        },
  );
  for (const s of opts.services) {
    const checked = withWireChecks(s.definition, s.implementation);
    server.addService(checked.definition, checked.implementation);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host}:${opts.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
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
