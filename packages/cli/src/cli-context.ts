import { InvalidArgumentError, type Command } from "commander";
import { resolveTarget, type Target } from "./target.js";

/** What every command reads from the global flags: where Herald is, and how to print. */
export interface Globals {
  target: Target;
  json: boolean;
}

export function globalsOf(cmd: Command): Globals {
  const opts = cmd.optsWithGlobals<{ grpc?: string; admin?: string; token?: string; json?: boolean }>();
  return { target: resolveTarget(opts), json: opts.json === true };
}

export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON document per line, for output that streams (tail, receive). */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Resolves on the first Ctrl-C, SIGTERM or SIGHUP, for commands that run until stopped and then clean up.
 * Ctrl-C reaches every process of the terminal's group, and npx forwards it too: a repeat within a second
 * is that same Ctrl-C. A later one means "stop now", and ends the process at once.
 */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let first: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now();
        resolve(signal);
      } else if (Date.now() - first > 1000) {
        process.exit(130);
      }
    };
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(s, onSignal);
  });
}

/** Repeatable options (`--user a --user b`) and comma lists (`--users a,b`) both become one list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").filter((v) => v !== "")];
}

/** A commander parser for an integer flag (commander's message names the flag). */
export function integer(value: string): number {
  if (!/^-?\d+$/.test(value))
    throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
