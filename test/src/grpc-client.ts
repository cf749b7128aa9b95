import type { ServiceError } from "@grpc/grpc-js";
import { grpcClientSetup, type GrpcClientSecurity } from "@herald/grpc";
import {
  BeforeRequest,
  BeforeStreamRequest,
  HeraldServiceClient,
  type BeforeStreamResponse,
  type BeforeResponse,
  PublishRequest,
  type DeepPartial,
  type Event,
  type PublishResponse,
} from "@herald/proto";

/** A chat core's client of the gateway; `security` for a port with TLS or a token. */
export function heraldClient(address: string, security: GrpcClientSecurity = {}): HeraldServiceClient {
  const setup = grpcClientSetup(security);
  return new HeraldServiceClient(address, setup.credentials, setup.options);
}

export function publish(client: HeraldServiceClient, events: DeepPartial<Event>[]): Promise<PublishResponse> {
  return new Promise((resolve, reject) =>
    client.publish(PublishRequest.fromPartial({ events }), (err: ServiceError | null, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

let counter = 0;

/** A connection-online event with a fresh id, for tests that need many valid events. */
export function onlineEvent(appId: string, overrides: DeepPartial<Event> = {}): DeepPartial<Event> {
  counter += 1;
  return {
    id: `ev-${process.pid}-${Date.now()}-${counter}`,
    appId,
    operationId: `op-${counter}`,
    payload: {
      $case: "connectionOnline",
      value: { userId: `u${counter}`, connId: `c${counter}`, platformId: 5, nodeId: "core-1" },
    },
    ...overrides,
  };
}

export function before(
  client: HeraldServiceClient,
  req: { appId: string; command: string; operationId?: string; payload: object },
): Promise<BeforeResponse> {
  return new Promise((resolve, reject) =>
    client.before(
      BeforeRequest.fromPartial({
        appId: req.appId,
        command: req.command,
        operationId: req.operationId ?? "",
        payloadJson: JSON.stringify(req.payload),
      }),
      (err: ServiceError | null, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

/** A BeforeStream client: send() resolves with the answer to that request, matched by its id. */
export function beforeStream(client: HeraldServiceClient) {
  const call = client.beforeStream();
  const waiting = new Map<number, (res: BeforeStreamResponse) => void>();
  let nextId = 0;
  call.on("data", (res: BeforeStreamResponse) => {
    waiting.get(res.requestId)?.(res);
    waiting.delete(res.requestId);
  });
  call.on("error", () => undefined);
  return {
    send(req: {
      appId: string;
      command: string;
      operationId?: string;
      payload: object;
    }): Promise<BeforeStreamResponse> {
      const requestId = ++nextId;
      return new Promise((resolve) => {
        waiting.set(requestId, resolve);
        call.write(
          BeforeStreamRequest.fromPartial({
            requestId,
            request: {
              appId: req.appId,
              command: req.command,
              operationId: req.operationId ?? "",
              payloadJson: JSON.stringify(req.payload),
            },
          }),
        );
      });
    },
    end: () => call.end(),
  };
}
