import type { Command } from "commander";
import type { BeforeResponse } from "@herald/proto";
import { globalsOf, print, printJson } from "../cli-context.js";
import { UsageError } from "../errors.js";
import { jsonObjectInput } from "../json-input.js";

/** `herald before <command>`: one before-hook call, as the chat core makes it. */
export function registerBefore(program: Command): void {
  program
    .command("before")
    .summary("ask a before-hook, as the chat core does")
    .description(
      "Calls HeraldService.Before and prints the decision, why (source), the error fields of a denial and the\n" +
        "modified payload. <command> is an OpenIM callback command in any spelling (beforeSendSingleMsg,\n" +
        "callbackBeforeSendSingleMsgCommand) or Tencent's (C2C.CallbackBeforeSendMsg).",
    )
    .argument("<command>", "the callback command")
    .requiredOption("--app <id>", "the app")
    .option("--payload <json>", "the JSON body the chat core would send the business server")
    .option("--file <path>", 'the payload from a file ("-" for stdin)')
    .option("--operation-id <id>", "the operationID (Herald makes one when absent)")
    .action(async (command: string, _opts: unknown, self: Command) => {
      const o = self.optsWithGlobals<{
        app: string;
        payload?: string;
        file?: string;
        operationId?: string;
      }>();
      const { target, json } = globalsOf(self);
      const payload = jsonObjectInput(o.payload, o.file, "--payload");
      if (payload === undefined)
        throw new UsageError("--payload", "required: the JSON body, or --file <path>");
      const payloadJson = payload.text;
      // Loaded here, not at start: the gRPC client and the generated code take a while to load.
      const { BeforeRequest, decisionSourceToJSON, decisionToJSON } = await import("@herald/proto");
      const { before, heraldClient } = await import("../grpc.js");
      const client = heraldClient(target);
      let res: BeforeResponse;
      try {
        res = await before(
          client,
          target,
          BeforeRequest.fromPartial({ appId: o.app, command, operationId: o.operationId ?? "", payloadJson }),
        );
      } finally {
        client.close();
      }
      const view = {
        decision: decisionToJSON(res.decision),
        source: decisionSourceToJSON(res.source),
        operationId: res.operationId,
        ...(res.errCode !== 0 || res.errMsg !== "" || res.errDlt !== ""
          ? { errCode: res.errCode, errMsg: res.errMsg, errDlt: res.errDlt }
          : {}),
        ...(res.payloadJson === "" ? {} : { payload: JSON.parse(res.payloadJson) as unknown }),
      };
      if (json) return printJson(view);
      print(`decision      ${view.decision.replace("DECISION_", "")}`);
      print(`source        ${view.source.replace("DECISION_SOURCE_", "")}`);
      print(`operationID   ${view.operationId}`);
      if ("errCode" in view) {
        print(`errCode       ${view.errCode}`);
        print(`errMsg        ${view.errMsg}`);
        print(`errDlt        ${view.errDlt}`);
      }
      if ("payload" in view) print(`payload       ${JSON.stringify(view.payload, null, 2)}`);
    });
}
