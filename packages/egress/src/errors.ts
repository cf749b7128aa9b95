import { TerminalError } from "@herald/runtime";

/**
 * A destination the SSRF guard will not connect to. Terminal: the same name resolves to the
 * same refused range on the next attempt, so retrying only repeats the refusal.
 */
export class DestinationRefusedError extends TerminalError {
  override name = "DestinationRefusedError";
  /** The IP that was refused, when there was one (absent when a URL failed before resolving). */
  readonly address: string | undefined;

  constructor(message: string, opts?: { address?: string } & ErrorOptions) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.address = opts?.address;
  }
}

/** Finds a DestinationRefusedError however deep undici or net wrapped it (`cause`, AggregateError). */
export function findDestinationRefused(err: unknown, depth = 0): DestinationRefusedError | undefined {
  if (err instanceof DestinationRefusedError) return err;
  if (depth > 8 || typeof err !== "object" || err === null) return undefined;
  const nested: unknown[] = [(err as { cause?: unknown }).cause];
  if (err instanceof AggregateError) nested.push(...(err.errors as unknown[]));
  for (const inner of nested) {
    const found = findDestinationRefused(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}
