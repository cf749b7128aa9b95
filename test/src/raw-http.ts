import { request } from "node:http";

export interface RawAnswer {
  status: number;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

// Like curl: a body over 1 MiB is announced with `Expect: 100-continue` and sent only once the
// server agrees, so a server refusing it early is heard instead of cutting the upload off (EPIPE).
const EXPECT_CONTINUE_ABOVE_BYTES = 1024 * 1024;

/**
 * One HTTP request with the request target sent exactly as given: no dot-segment removal, no
 * re-encoding (fetch normalises `/x/../v1` and `%2e` before sending, which would hide what a
 * server does with them).
 */
export function sendRaw(
  baseUrl: string,
  method: string,
  target: string,
  opts: { headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const base = new URL(baseUrl);
  const askFirst =
    opts.body !== undefined &&
    (Buffer.byteLength(opts.body) > EXPECT_CONTINUE_ABOVE_BYTES ||
      opts.headers?.["expect"]?.toLowerCase() === "100-continue");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path: target,
        headers: {
          ...(opts.body === undefined ? {} : { "content-length": String(Buffer.byteLength(opts.body)) }),
          ...(askFirst ? { expect: "100-continue" } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          // Refused before the body went: the connection has nothing more to carry.
          if (askFirst && !req.writableEnded) req.destroy();
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on("error", reject);
    if (askFirst) req.on("continue", () => req.end(opts.body));
    else req.end(opts.body);
  });
}
