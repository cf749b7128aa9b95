import { expect, it } from "vitest";
import { createLogger, RetryableError, TerminalError, ValidationError } from "@herald/runtime";
import { retryAllButTerminal } from "./consume.js";
import type { Delivery } from "./consume.js";

const log = createLogger({ service: "bus-test", level: "silent" });
const ctx = { signal: new AbortController().signal, log };
const delivery = {} as Delivery;
const failing = (err: Error) => retryAllButTerminal(() => Promise.reject(err));

it("lets a TerminalError and a retryable error through, and makes any other refusal retryable", async () => {
  const terminal = new TerminalError("bad bytes");
  await expect(failing(terminal)(delivery, ctx)).rejects.toBe(terminal);
  const retryable = new RetryableError("later", { retryAfterMs: 5 });
  await expect(failing(retryable)(delivery, ctx)).rejects.toBe(retryable);
  const refused = failing(new ValidationError("appId is not a token", { field: "appId" }))(delivery, ctx);
  await expect(refused).rejects.toBeInstanceOf(RetryableError);
  await expect(retryAllButTerminal(() => Promise.resolve())(delivery, ctx)).resolves.toBeUndefined();
});
