import { ConfigError } from "@herald/runtime";

/** A config value or file that cannot be used; `path` is the bad field, dotted; `file` is "" for a value not read from a file. */
export class ConfigFileError extends ConfigError {
  override name = "ConfigFileError";
  readonly path: string;
  readonly file: string;
  /** 1-based line in `file`, when known. */
  readonly line: number | undefined;

  constructor(problem: string, opts: { path: string; file: string; line?: number } & ErrorOptions) {
    const where = [opts.file, opts.line === undefined ? undefined : `line ${opts.line}`]
      .filter((part) => part !== undefined && part !== "")
      .join(", ");
    super(`${where === "" ? "" : `${where}: `}${opts.path}: ${problem}`, {
      field: opts.path,
      cause: opts.cause,
    });
    this.path = opts.path;
    this.file = opts.file;
    this.line = opts.line;
  }
}

/** Something in a config that is ignored rather than refused, e.g. an unknown (misspelt) key. */
export interface ConfigWarning {
  path: string;
  message: string;
}
