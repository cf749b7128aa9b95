// pnpm bench: every figure beside the floor it cannot beat, measured in the same run.
import { benchPublish } from "./publish.bench.js";
import { benchBefore } from "./before.bench.js";
import { benchBeforeProvider } from "./before-provider.bench.js";
import { benchPresence } from "./presence.bench.js";
import { benchChatroom } from "./chatroom.bench.js";
import { benchDelivery } from "./delivery.bench.js";
import { benchDeliveryEndpoints } from "./delivery-endpoints.bench.js";
import { benchLogstore } from "./logstore.bench.js";
import { benchOverview } from "./overview.bench.js";
import { printTable } from "./stats.js";

// BENCH=before,publish,presence,chatroom,delivery,logstore,overview picks some; all run by default ("before" is
// both before-hook benchmarks; "before-provider" runs the gRPC provider's alone). "delivery" is
// both delivery benchmarks; "delivery-keys" or "delivery-endpoints" runs one of them.
const only = new Set(
  (process.env.BENCH ?? "before,publish,presence,chatroom,delivery,logstore,overview").split(","),
);
if (only.has("delivery")) for (const part of ["delivery-keys", "delivery-endpoints"]) only.add(part);
const started = Date.now();
if (only.has("before"))
  printTable(
    "Before-hooks (gRPC Before via gateway and evaluator vs a direct undici POST)",
    await benchBefore(),
  );
if (only.has("before") || only.has("before-provider")) {
  printTable(
    "Before-hooks answered by a gRPC hook provider (gateway and evaluator vs a direct Decide stream to it)",
    await benchBeforeProvider(),
  );
}
if (only.has("publish")) printTable("Event intake (gateway vs raw JetStream publish)", await benchPublish());
if (only.has("presence")) {
  printTable("Presence fold (presence service vs raw JetStream publish + consume)", await benchPresence());
}
if (only.has("chatroom")) {
  printTable("Chatroom joins (chatroom service vs raw JetStream publish + consume)", await benchChatroom());
}
if (only.has("delivery-keys")) {
  printTable(
    "Delivery (gateway + deliverer to a business server's 200 vs raw JetStream + direct undici POST)",
    await benchDelivery(),
  );
}
if (only.has("delivery-endpoints")) {
  printTable(
    "Delivery over many endpoints (the same callbacks to 10 endpoints and to 10,000; floor column: 10 endpoints)",
    await benchDeliveryEndpoints(),
  );
}
if (only.has("logstore")) {
  printTable(
    "Log store (attempt records via ATTEMPTS into Postgres vs plain multi-row INSERTs)",
    await benchLogstore(),
  );
}
if (only.has("overview")) {
  printTable(
    "Overview (GetOverview of a busy endpoint over a day from the rollups vs count(*) of its attempt rows; BENCH_OVERVIEW_ROWS, default 5M)",
    await benchOverview(),
  );
}
console.log(
  `\nbench finished in ${((Date.now() - started) / 1000).toFixed(1)} s on ${process.platform}/${process.arch}, node ${process.version}`,
);
