import { describe, expect, it } from "vitest";
import { KeyedQueue } from "./keyed-queue.js";
import { decodeKeyToken, encodeKeyToken } from "./kv-keys.js";

it("encodes any id into one valid KV token and back", () => {
  for (const id of ["plain_id-1", "a.b", "ünï/cødé ✓", "=", "*>"]) {
    const token = encodeKeyToken(id);
    expect(token).toMatch(/^[-_=a-zA-Z0-9]+$/);
    expect(decodeKeyToken(token)).toBe(id);
  }
});

describe("KeyedQueue", () => {
  it("runs the tasks of one key one at a time, in order, and other keys at once", async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    let release: () => void = () => {};
    const first = queue.run("a", () =>
      new Promise<void>((r) => (release = r)).then(() => void log.push("a1")),
    );
    const second = queue.run("a", () => Promise.resolve(void log.push("a2")));
    await queue.run("b", () => Promise.resolve(void log.push("b1")));
    expect(log).toEqual(["b1"]);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(["b1", "a1", "a2"]);
    await new Promise((r) => setImmediate(r));
    expect(queue.size).toBe(0);
  });

  it("goes on with the next task when one fails", async () => {
    const queue = new KeyedQueue();
    await expect(queue.run("k", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await queue.run("k", () => Promise.resolve(2))).toBe(2);
  });
});
