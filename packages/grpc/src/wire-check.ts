import type {
  handleUnaryCall,
  MethodDefinition,
  ServiceDefinition,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ValidationError, ensureError } from "@herald/runtime";
import { toServiceError } from "./errors.js";

/** What was wrong with a request as it came off the wire; `field` as the proto spells it, relative to the object. */
export interface WireProblem {
  field: string;
  message: string;
}

const problems = new WeakMap<object, WireProblem>();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const NOT_UTF8 = "is not valid UTF-8";
const UNSAFE_INTEGER = "is beyond the integers Herald can read (±(2^53 - 1), exclusive)";

/**
 * protobuf-es replaces invalid UTF-8 with U+FFFD, which would silently change ids and text, and
 * ts-proto throws on an int64 beyond 2^53, which grpc-js answers with INTERNAL. This reader keeps
 * the text it had to repair and reads such an integer as ±(2^53 - 1) (not NaN: generated code turns
 * a falsy seconds into 0); the walk below then names the field, or the time it made impossible.
 */
class CheckingReader extends BinaryReader {
  unsafeIntegers = false;

  constructor(
    bytes: Uint8Array,
    readonly repairedText: Set<string>,
  ) {
    super(bytes, (data) => {
      try {
        return strictUtf8.decode(data);
      } catch {
        const text = lenientUtf8.decode(data);
        repairedText.add(text);
        return text;
      }
    });
  }

  private safe(value: bigint | string): bigint | string {
    const n = Number(value);
    if (Number.isSafeInteger(n) && Math.abs(n) !== Number.MAX_SAFE_INTEGER) return value;
    this.unsafeIntegers = true;
    return String(n < 0 ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER);
  }

  override int64() {
    return this.safe(super.int64());
  }
  override uint64() {
    return this.safe(super.uint64());
  }
  override sint64() {
    return this.safe(super.sint64());
  }
  override fixed64() {
    return this.safe(super.fixed64());
  }
  override sfixed64() {
    return this.safe(super.sfixed64());
  }
}

/**
 * The problem found in `message` (or in the decoded request it is part of) when it was decoded:
 * invalid UTF-8, an integer out of range, bytes that are not the message at all.
 */
export function wireProblem(message: object): WireProblem | undefined {
  return problems.get(message);
}

/** wireProblem as the ValidationError to throw, its field prefixed with `where` ("events[2]."). */
export function wireError(message: object, where = "", index?: number): ValidationError | undefined {
  const problem = problems.get(message);
  if (problem === undefined) return undefined;
  const field = `${where}${problem.field}`.replace(/\.$/, "");
  return new ValidationError(`${field || "request"}: ${problem.message}`, { field, index });
}

/**
 * The service with every request decoded by the checking reader, and every unary method refusing a
 * request with a wire problem (INVALID_ARGUMENT naming the field) before its handler runs. Streaming
 * handlers answer per message, so they ask wireError themselves.
 */
export function withWireChecks(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const checkedDefinition: Record<string, MethodDefinition<unknown, unknown>> = {};
  const checkedImplementation: UntypedServiceImplementation = { ...implementation };
  for (const [name, method] of Object.entries(definition)) {
    checkedDefinition[name] = { ...method, requestDeserialize: checkedDecoder(method) };
    const handler = implementation[name];
    if (!method.requestStream && !method.responseStream && handler !== undefined) {
      const unary = handler as handleUnaryCall<object, unknown>;
      checkedImplementation[name] = ((call, callback) => {
        const bad = wireError(call.request);
        if (bad === undefined) unary(call, callback);
        else callback(toServiceError(bad));
      }) satisfies handleUnaryCall<object, unknown>;
    }
  }
  return { definition: checkedDefinition, implementation: checkedImplementation };
}

function checkedDecoder(method: MethodDefinition<unknown, unknown>): (bytes: Buffer) => unknown {
  // The generated decode takes a reader in place of bytes: that is how it decodes nested messages.
  const decode = (reader: BinaryReader) => method.requestDeserialize(reader as unknown as Buffer) as object;
  return (bytes) => {
    const reader = new CheckingReader(bytes, new Set());
    let message: object;
    try {
      message = decode(reader);
    } catch (err) {
      // The empty message, so that a handler that reads it before asking finds only defaults.
      const empty = decode(new BinaryReader(new Uint8Array(0)));
      problems.set(empty, {
        field: "",
        message: `is not a valid ${method.path} request: ${ensureError(err).message}`,
      });
      return empty;
    }
    if (reader.repairedText.size > 0 || reader.unsafeIntegers) findProblem(message, reader.repairedText);
    return message;
  };
}

/** Walks a decoded message; records, on every object on the way to the first bad value, where it is. */
function findProblem(value: unknown, repaired: ReadonlySet<string>): WireProblem | undefined {
  if (typeof value === "string") return repaired.has(value) ? { field: "", message: NOT_UTF8 } : undefined;
  if (typeof value === "number") {
    return Math.abs(value) === Number.MAX_SAFE_INTEGER ? { field: "", message: UNSAFE_INTEGER } : undefined;
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime())
      ? { field: "", message: "is not a time Herald can represent" }
      : undefined;
  }
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findProblem(item, repaired);
      if (found !== undefined) return { ...found, field: `[${i}]${dotted(found.field)}` };
    }
    return undefined;
  }
  let found: WireProblem | undefined;
  if (isOneof(value)) {
    const inner = findProblem(value.value, repaired);
    if (inner !== undefined)
      found = { ...inner, field: `${protoFieldName(value.$case)}${dotted(inner.field)}` };
  } else {
    for (const [key, child] of Object.entries(value)) {
      const inner = findProblem(child, repaired);
      if (inner === undefined) continue;
      // A oneof names its case, not the field that holds it: events[0].connection_online.user_id.
      const name = isOneof(child) ? "" : protoFieldName(key);
      found = { ...inner, field: name === "" ? inner.field : `${name}${dotted(inner.field)}` };
      break;
    }
  }
  if (found !== undefined) problems.set(value, found);
  return found;
}

function dotted(field: string): string {
  return field === "" || field.startsWith("[") ? field : `.${field}`;
}

function isOneof(value: unknown): value is { $case: string; value: unknown } {
  return typeof value === "object" && value !== null && "$case" in value && "value" in value;
}

/** A ts-proto property's name as the proto spells the field: userId -> user_id. */
export function protoFieldName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
