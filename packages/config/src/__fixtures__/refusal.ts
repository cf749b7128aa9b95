import { expect } from "vitest";
import { ConfigFileError } from "../errors.js";

/** The error `run` throws, which must be a ConfigFileError. */
export async function refusal(run: () => unknown): Promise<ConfigFileError> {
  try {
    await run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return err as ConfigFileError;
  }
  throw new Error("expected a ConfigFileError, nothing was thrown");
}
