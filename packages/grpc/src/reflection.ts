import type { ServiceDefinition } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** The standard reflection services' full names; both versions are served (grpcurl still asks v1alpha first). */
export const REFLECTION_SERVICES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

/** The full name of the service a definition describes ("herald.v1.HeraldService"), from its methods' paths. */
export function serviceName(definition: ServiceDefinition): string {
  const first = Object.values(definition)[0];
  const name = first === undefined ? undefined : /^\/([^/]+)\//.exec(first.path)?.[1];
  if (name === undefined) throw new Error("a gRPC service definition without methods has no name");
  return name;
}

/**
 * grpc.reflection.v1 and v1alpha listing exactly `services` and describing them from `descriptorSet`
 * (a serialized FileDescriptorSet, as `buf build` writes it). Throws when a service is not in the set:
 * the set is older than the code.
 */
export function reflectionService(descriptorSet: Uint8Array, services: readonly string[]): ReflectionService {
  const files = fromBinary(FileDescriptorSetSchema, descriptorSet).file;
  const described = new Set(files.flatMap((f) => f.service.map((s) => `${f.package}.${s.name}`)));
  const missing = services.filter((s) => !described.has(s));
  if (missing.length > 0) {
    throw new Error(`the descriptor set does not describe ${missing.join(", ")}: run \`pnpm proto:gen\``);
  }
  // The package reads only each definition's fileDescriptorProtos. They are the set's own files as buf
  // wrote them: proto-loader would rebuild them through protobufjs, merging the files of one package
  // into one and dropping the comments.
  const definition = {
    format: "Protocol Buffer 3 DescriptorProto" as const,
    type: {},
    fileDescriptorProtos: files.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f))),
  };
  return new ReflectionService({ descriptorSet: definition }, { services: [...services] });
}
