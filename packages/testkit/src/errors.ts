/** A fixture could not start its server (binary or OS user missing, process exited, not ready in time). */
export class FixtureStartError extends Error {
  override readonly name = "FixtureStartError";
  constructor(
    message: string,
    readonly fixture: "nats" | "postgres" | "recording-server" | "tls",
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A fault-injection call (restart, kill, start) on a fixture that does not own its server process. */
export class UnsupportedFixtureOperationError extends Error {
  override readonly name = "UnsupportedFixtureOperationError";
  constructor(
    message: string,
    readonly operation: string,
    readonly source: string,
  ) {
    super(message);
  }
}

/** `waitFor` or `waitForRequests` gave up. `cause` is the probe's last error, if it threw. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  constructor(
    message: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
