// An OTLP/HTTP trace receiver on loopback, as a collector would be: it accepts POST /v1/traces in
// http/protobuf and keeps each span's service, ids and name. The protobuf is read with a small wire
// reader over the few fields of ExportTraceServiceRequest a test looks at.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port>, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Every request that reached it, /v1/traces or not. */
  requests: number;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: OtlpReceiver = { url: "", spans: [], requests: 0, close: () => Promise.resolve() };
  const server = createServer((req, res) => {
    receiver.requests += 1;
    void readBody(req).then((body) => {
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      const gzipped = req.headers["content-encoding"] === "gzip";
      receiver.spans.push(...decodeTraces(gzipped ? gunzipSync(body) : body));
      // An empty ExportTraceServiceResponse: everything accepted.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

type Field = { no: number; bytes?: Buffer };

/** The fields of one protobuf message; length-delimited ones with their bytes, others skipped. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    const no = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        varint();
        out.push({ no });
        break;
      case 1:
        pos += 8;
        out.push({ no });
        break;
      case 2: {
        const len = varint();
        out.push({ no, bytes: buf.subarray(pos, pos + len) });
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        out.push({ no });
        break;
      default:
        throw new Error(`unexpected wire type in OTLP body: ${tag & 7}`);
    }
  }
  return out;
}

const sub = (buf: Buffer, no: number): Buffer[] =>
  fields(buf)
    .filter((f) => f.no === no && f.bytes !== undefined)
    .map((f) => f.bytes as Buffer);

/** ExportTraceServiceRequest{1: ResourceSpans{1: Resource{1: KeyValue}, 2: ScopeSpans{2: Span}}}. */
function decodeTraces(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of sub(body, 1)) {
    let service = "";
    for (const resource of sub(resourceSpans, 1)) {
      for (const kv of sub(resource, 1)) {
        const key = sub(kv, 1)[0]?.toString("utf8");
        const value = sub(kv, 2)[0];
        if (key === "service.name" && value !== undefined) service = sub(value, 1)[0]?.toString("utf8") ?? "";
      }
    }
    for (const scopeSpans of sub(resourceSpans, 2)) {
      for (const span of sub(scopeSpans, 2)) {
        const hex = (no: number) => sub(span, no)[0]?.toString("hex") ?? "";
        spans.push({
          service,
          traceId: hex(1),
          spanId: hex(2),
          parentSpanId: hex(4),
          name: sub(span, 5)[0]?.toString("utf8") ?? "",
        });
      }
    }
  }
  return spans;
}
