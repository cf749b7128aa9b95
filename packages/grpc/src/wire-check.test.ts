import { describe, expect, it } from "vitest";
import type { MethodDefinition } from "@grpc/grpc-js";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { wireError, wireProblem, withWireChecks } from "./wire-check.js";

// A message decoded the way ts-proto's generated code does it: { userId, userIds[], seq, payload: oneof }.
interface Sample {
  userId: string;
  userIds: string[];
  seq: number;
  payload: { $case: "roomJoined"; value: { roomId: string } } | undefined;
}

function decodeSample(input: BinaryReader | Uint8Array): Sample {
  const reader = input instanceof BinaryReader ? input : new BinaryReader(input);
  const out: Sample = { userId: "", userIds: [], seq: 0, payload: undefined };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag >>> 3) {
      case 1:
        out.userId = reader.string();
        break;
      case 2:
        out.userIds.push(reader.string());
        break;
      case 3:
        out.seq = Number(reader.int64());
        break;
      case 4: {
        const end = reader.uint32() + reader.pos;
        let roomId = "";
        while (reader.pos < end) {
          reader.uint32();
          roomId = reader.string();
        }
        out.payload = { $case: "roomJoined", value: { roomId } };
        break;
      }
      default:
        reader.skip(tag & 7);
    }
  }
  return out;
}

const method: MethodDefinition<Sample, Sample> = {
  path: "/test.Sample/Get",
  requestStream: false,
  responseStream: false,
  requestSerialize: () => Buffer.alloc(0),
  requestDeserialize: (bytes: Buffer) => decodeSample(bytes),
  responseSerialize: () => Buffer.alloc(0),
  responseDeserialize: (bytes: Buffer) => decodeSample(bytes),
};
const { definition } = withWireChecks({ get: method }, {});
const decode = (bytes: Uint8Array) => definition["get"]!.requestDeserialize(Buffer.from(bytes)) as Sample;

function encode(fields: { userId?: string; userIds?: string[]; seq?: bigint; roomId?: string }): Uint8Array {
  const w = new BinaryWriter();
  if (fields.userId !== undefined) w.uint32(10).string(fields.userId);
  for (const id of fields.userIds ?? []) w.uint32(18).string(id);
  if (fields.seq !== undefined) w.uint32(24).int64(fields.seq);
  if (fields.roomId !== undefined) w.uint32(34).fork().uint32(10).string(fields.roomId).join();
  return w.finish();
}

/** The bytes with `marker` (ASCII) replaced by 0xFF bytes: invalid UTF-8 of the same length. */
function breakUtf8(bytes: Uint8Array, marker: string): Uint8Array {
  const copy = Buffer.from(bytes);
  const at = copy.indexOf(marker);
  copy.fill(0xff, at, at + marker.length);
  return copy;
}

describe("withWireChecks", () => {
  it("passes valid text through untouched, U+FFFD and all", () => {
    const sample = decode(encode({ userId: "李四\uFFFD", userIds: ["😀"], seq: 7n, roomId: "r" }));
    expect(sample.userId).toBe("李四\uFFFD");
    expect(wireProblem(sample)).toBeUndefined();
  });

  it.each([
    [{ userId: "XXXX" }, "user_id"],
    [{ userIds: ["ok", "XXXX"] }, "user_ids[1]"],
    [{ roomId: "XXXX" }, "room_joined.room_id"],
  ])("names the field that had invalid UTF-8: %j", (fields, field) => {
    const sample = decode(breakUtf8(encode(fields), "XXXX"));
    expect(wireProblem(sample)).toEqual({ field, message: "is not valid UTF-8" });
  });

  it("marks the nested objects too, so a part can be checked on its own", () => {
    const sample = decode(breakUtf8(encode({ roomId: "XXXX" }), "XXXX"));
    expect(wireProblem(sample.payload!.value)?.field).toBe("room_id");
    expect(wireError(sample, "events[3].", 3)).toMatchObject({
      field: "events[3].room_joined.room_id",
      index: 3,
    });
  });

  it("names an integer beyond 2^53 instead of failing to decode", () => {
    const sample = decode(encode({ seq: 2n ** 60n }));
    expect(wireProblem(sample)?.field).toBe("seq");
    expect(wireProblem(decode(encode({ seq: 2n ** 53n - 2n })))).toBeUndefined();
  });

  it("turns bytes that do not decode into a problem of the whole request", () => {
    const sample = decode(Uint8Array.from([0x0a, 0x10, 0x41]));
    expect(sample).toEqual({ userId: "", userIds: [], seq: 0, payload: undefined });
    expect(wireError(sample)?.message).toMatch(/^request: is not a valid \/test.Sample\/Get request/);
  });
});
