import {
  InterceptingCall,
  Metadata,
  ServerInterceptingCall,
  status,
  type Interceptor,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { bearerToken, tokenDigest, tokenMatches } from "@herald/runtime";

const AUTHORIZATION = "authorization";

/** Why `metadata` does not carry `expected`, or undefined when it does. */
function tokenProblem(metadata: Metadata, expected: Buffer): string | undefined {
  const values = metadata.get(AUTHORIZATION);
  if (values.length === 0) return "missing authorization metadata (Bearer <token>)";
  const presented = values.length === 1 && typeof values[0] === "string" ? bearerToken(values[0]) : undefined;
  if (presented === undefined) return "authorization metadata must be one 'Bearer <token>'";
  return tokenMatches(presented, expected) ? undefined : "invalid token";
}

/**
 * Answers UNAUTHENTICATED to every call, unary or streaming, whose metadata lacks
 * `authorization: Bearer <token>`, before any handler sees it. The token is then removed, so no
 * handler can log or forward it. Methods whose path `open` accepts pass without a token.
 */
export function requireToken(
  token: string,
  open: (path: string) => boolean = () => false,
): ServerInterceptor {
  const expected = tokenDigest(token);
  return (method, call) =>
    open(method.path)
      ? new ServerInterceptingCall(call)
      : new ServerInterceptingCall(call, {
          start: (next) =>
            next({
              onReceiveMetadata: (metadata, pass) => {
                const problem = tokenProblem(metadata, expected);
                if (problem !== undefined) {
                  call.sendStatus({
                    code: status.UNAUTHENTICATED,
                    details: problem,
                    metadata: new Metadata(),
                  });
                  return;
                }
                metadata.remove(AUTHORIZATION);
                pass(metadata);
              },
            }),
        });
}

/** Adds `authorization: Bearer <token>` to every call of a client; works on insecure channels too. */
export function sendToken(token: string): Interceptor {
  const value = `Bearer ${token}`;
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set(AUTHORIZATION, value);
        next(metadata, listener);
      },
    });
}
