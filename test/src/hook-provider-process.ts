// A gRPC hook provider in its own process, for tests that kill it mid-call: it prints
// {"port":N} once listening and {"call":"<operationId>"} for each call, allows every call, and
// never answers one whose payload has `hold: true`.
import { openImAnswer, serveHookProvider } from "@herald/receiver";

const server = await serveHookProvider({
  host: "127.0.0.1",
  port: Number(process.env["PORT"] ?? "0"),
  decide: (call) => {
    process.stdout.write(`${JSON.stringify({ call: call.operationId })}\n`);
    return call.payload["hold"] === true ? new Promise(() => {}) : openImAnswer.allow();
  },
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
