import { z } from "zod";
import { baseEnvSchema, envBoolean } from "@herald/runtime";
import { evaluatorEnvSchema } from "@herald/evaluator/config";
import { grpcClientEnv, grpcServerEnv } from "@herald/grpc";

/**
 * The gateway's environment. Apart from main.ts, whose import starts the service, so that the deploy
 * checks (test/src/deploy.test.ts) can read the variables it takes.
 */
export const schema = baseEnvSchema.extend({
  GRPC_HOST: z.string().default("0.0.0.0"),
  GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(50051),
  // Per gRPC message (a whole Publish batch); each event and Before payload has its own, smaller
  // limit, derived from NATS's max_payload (largestPayloadBytes in @herald/bus).
  GRPC_MAX_MESSAGE_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024),
  // TLS, client certificates and a token for the chat core's port (GRPC_TLS_*, GRPC_AUTH_TOKEN).
  ...grpcServerEnv,
  PUBLISH_MAX_BATCH: z.coerce.number().int().min(1).max(100_000).default(1000),
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  PUBLISH_STREAM_WINDOW: z.coerce.number().int().min(1).max(1024).default(16),
  HERALD_CONFIG: z.string().optional(),
  // Directories, besides HERALD_CONFIG's own, whose files it may reference (webhooksFile), ":"-separated.
  HERALD_CONFIG_INCLUDE_DIRS: z
    .string()
    .default("")
    .transform((text) => text.split(":").filter((dir) => dir !== "")),
  HERALD_CONFIG_POLL_MS: z.coerce.number().int().min(50).default(1000),
  // For a migration only: take events and before-hooks for apps configured nowhere (stored, delivered
  // to no one; Before answers CONTINUE, HOOK_DISABLED) instead of NOT_FOUND naming app_id.
  HERALD_ACCEPT_UNKNOWN_APPS: envBoolean.default(false),
  BEFORE_ANSWER_MARGIN_MS: z.coerce.number().int().min(0).max(10_000).default(500),
  // "nats" (default): before-hooks go to the evaluators over NATS, which scale out and fail over.
  // "local": this gateway evaluates them itself, saving the hop (see the README's before-hook figures).
  BEFORE_EVALUATION: z.enum(["nats", "local"]).default("nats"),
  ADMIN_HOST: z.string().min(1).default("0.0.0.0"),
  ADMIN_PORT: z.coerce.number().int().min(0).max(65535).default(8088),
  // Unset: the admin API answers 401 to everything (the panel's files are still served).
  ADMIN_TOKEN: z.string().min(16, { error: "expected at least 16 characters" }).optional(),
  // host:port of the log store's gRPC server; unset: log routes answer 503.
  LOGSTORE_ADDRESS: z.string().min(1).optional(),
  LOGSTORE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // How to reach a secured log store: LOGSTORE_TLS_CA_FILE, _TLS_CERT_FILE, _TLS_KEY_FILE, LOGSTORE_AUTH_TOKEN.
  ...grpcClientEnv("LOGSTORE"),
  // Endpoint URLs on 127.0.0.1 pass the admin API's SSRF check, as they do the deliverer's and evaluator's.
  // DELIVERY_ALLOW_LOOPBACK, and the HTTP pools of a gateway that evaluates before-hooks itself.
  ...evaluatorEnvSchema,
});
