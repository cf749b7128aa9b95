import { Command, CommanderError } from "commander";
import { registerApps } from "./commands/apps.js";
import { registerBefore } from "./commands/before.js";
import { registerEndpoints } from "./commands/endpoints.js";
import { registerLogs } from "./commands/logs.js";
import { registerNodes } from "./commands/nodes.js";
import { registerPublish } from "./commands/publish.js";
import { registerReceive } from "./commands/receive.js";
import { EXIT_OK, EXIT_USAGE, RefusedError, exitCodeOf } from "./errors.js";

const ENVIRONMENT = `
Where Herald is (flags first, then the environment, then what a local \`npm start\` left in $HERALD_HOME):
  --grpc, HERALD_GRPC         the gateway's gRPC address     (default: $HERALD_HOME/ports.json, else 127.0.0.1:50051)
  --admin, HERALD_ADMIN_URL   the admin API                  (default: $HERALD_HOME/ports.json, else http://127.0.0.1:8088)
  --token, ADMIN_TOKEN        the admin token or an app key  (default: $HERALD_HOME/admin-token)
  GRPC_AUTH_TOKEN             the gRPC port's token, when it has one
  HERALD_HOME                 npm start's state directory    (default: ./.herald)

Exit codes: 0 done, 1 failed or refused by Herald, 2 a wrong command line (the message names the flag or field).`;

export function buildProgram(): Command {
  const program = new Command("herald")
    .description(
      "Herald from the command line: publish events, ask before-hooks, manage apps, endpoints and keys,\nfollow and replay deliveries, and receive callbacks locally.",
    )
    .option("--grpc <host:port>", "the gateway's gRPC address (HERALD_GRPC)")
    .option("--admin <url>", "the admin API's base URL (HERALD_ADMIN_URL)")
    .option("--token <token>", "the admin token or an app key (ADMIN_TOKEN)")
    .option(
      "--json",
      "machine-readable output: one JSON document, or one JSON line per item for tail and receive",
    )
    .addHelpText("after", ENVIRONMENT)
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  registerPublish(program);
  registerBefore(program);
  registerApps(program);
  registerEndpoints(program);
  registerLogs(program);
  registerNodes(program);
  registerReceive(program);
  return program;
}

/** Runs the CLI on `argv` (without node and the script) and returns its exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return EXIT_OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander printed its message (or the help) already.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    process.stderr.write(`herald: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof RefusedError && err.field !== undefined && !err.message.includes(err.field)) {
    return `${err.message} (field: ${err.field})`;
  }
  return err.message;
}
