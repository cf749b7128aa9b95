import { readFileSync } from "node:fs";

/**
 * The FileDescriptorSet that `pnpm proto:gen` writes beside src/ and dist/: every file of proto/
 * (with its imports and comments), grpc.health.v1 and grpc.reflection.v1/v1alpha. What gRPC server
 * reflection describes; read from disk on each call, so call it once at start.
 */
export function heraldDescriptorSet(): Buffer {
  return readFileSync(new URL("../descriptors/herald.binpb", import.meta.url));
}
