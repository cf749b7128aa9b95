import {
  status,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { service as healthDefinition } from "grpc-health-check";
import type { Logger } from "@herald/runtime";

/** The standard health service's full name; it answers without a token (Kubernetes probes carry none). */
export const HEALTH_SERVICE = "grpc.health.v1.Health";
/** How often open Watch calls look at readiness again. */
const WATCH_POLL_MS = 1000;

type ServingStatus = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
interface CheckRequest {
  service: string;
}
interface CheckResponse {
  status: ServingStatus;
}
interface Watch {
  call: ServerWritableStream<CheckRequest, CheckResponse>;
  last?: ServingStatus;
}

export interface GrpcHealth {
  /** grpc.health.v1.Health, as grpc-health-check defines it (its messages: keepCase, enums as names). */
  readonly definition: ServiceDefinition;
  readonly implementation: {
    Check: (
      call: ServerUnaryCall<CheckRequest, CheckResponse>,
      callback: sendUnaryData<CheckResponse>,
    ) => void;
    Watch: (call: ServerWritableStream<CheckRequest, CheckResponse>) => void;
    List: (
      call: ServerUnaryCall<unknown, { statuses: Record<string, CheckResponse> }>,
      callback: sendUnaryData<{ statuses: Record<string, CheckResponse> }>,
    ) => void;
  };
  /** NOT_SERVING from now on; open Watch calls hear it and end, since they would hold up the shutdown. */
  drain(): void;
}

/**
 * grpc.health.v1.Health for `services` (full names) and "" (the server as a whole): SERVING while
 * `ready` (the readiness /readyz answers) holds, NOT_SERVING otherwise and once draining. Check and
 * List ask `ready` on each call; Watch sends the status, then each change.
 */
export function grpcHealth(opts: {
  services: string[];
  ready: () => Promise<boolean>;
  log: Logger;
}): GrpcHealth {
  const known = new Set(["", ...opts.services]);
  const watches = new Set<Watch>();
  let draining = false;
  let timer: NodeJS.Timeout | undefined;

  const current = async (): Promise<ServingStatus> => {
    if (draining) return "NOT_SERVING";
    try {
      return (await opts.ready()) && !draining ? "SERVING" : "NOT_SERVING";
    } catch (err) {
      opts.log.warn({ err }, "gRPC health: readiness could not be evaluated");
      return "NOT_SERVING";
    }
  };
  const send = (watch: Watch, serving: ServingStatus) => {
    if (watch.last === serving) return;
    watch.last = serving;
    watch.call.write({ status: serving });
  };
  const poll = async () => {
    const serving = await current();
    for (const watch of watches) if (known.has(watch.call.request.service)) send(watch, serving);
  };
  const stopPolling = () => {
    clearInterval(timer);
    timer = undefined;
  };

  return {
    definition: healthDefinition,
    implementation: {
      Check: (call, callback) => {
        if (!known.has(call.request.service)) {
          callback({ code: status.NOT_FOUND, details: `unknown service ${call.request.service}` });
          return;
        }
        void current().then((serving) => callback(null, { status: serving }));
      },
      Watch: (call) => {
        const watch: Watch = { call };
        if (draining) {
          send(watch, known.has(call.request.service) ? "NOT_SERVING" : "SERVICE_UNKNOWN");
          call.end();
          return;
        }
        watches.add(watch);
        call.on("cancelled", () => {
          watches.delete(watch);
          if (watches.size === 0) stopPolling();
        });
        if (!known.has(call.request.service)) {
          // The services are fixed at start: an unknown one stays unknown, and the call stays open.
          send(watch, "SERVICE_UNKNOWN");
          return;
        }
        timer ??= setInterval(() => void poll(), WATCH_POLL_MS).unref();
        void current().then((serving) => send(watch, serving));
      },
      List: (_call, callback) => {
        void current().then((serving) =>
          callback(null, {
            statuses: Object.fromEntries([...known].map((name) => [name, { status: serving }])),
          }),
        );
      },
    },
    drain() {
      draining = true;
      stopPolling();
      for (const watch of watches) {
        if (known.has(watch.call.request.service)) send(watch, "NOT_SERVING");
        watch.call.end();
      }
      watches.clear();
    },
  };
}
