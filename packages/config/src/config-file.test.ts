import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_HOOK_POLICY } from "@herald/dialects";
import {
  OPENIM_HOOK_KEYS,
  hookConfig,
  loadConfigFile,
  parseHeraldConfig,
  parseOpenImWebhooks,
  validateAppConfig,
} from "./index.js";
import { refusal } from "./__fixtures__/refusal.js";

// Herald's before-hook policy, filled into every hook of a webhooks.yml (failedAction is failedContinue there).
const { failedAction: _, ...POLICY_DEFAULTS } = DEFAULT_HOOK_POLICY;

const fullWebhooksFile = fileURLToPath(new URL("./__fixtures__/openim-webhooks.yml", import.meta.url));

// The configuration example of seed 004, as OpenIM's docs show it.
const SEED_004 = `
url: http://127.0.0.1:10006/callbackExample
beforeSendSingleMsg:
  enable: false
  timeout: 5
  failedContinue: true
  deniedTypes: []
beforeUpdateUserInfoEx:
  enable: false
  timeout: 5
  failedContinue: true
`;

const HERALD_YAML = `
apps:
  app1:
    openim:
      url: http://127.0.0.1:10006/callbackExample
      urlStyle: query
      commandNames: current
      webhooks:
        beforeSendSingleMsg:
          enable: true
          timeout: 3
          failedContinue: false
          deniedTypes: [101, "200-500", "7"]
          allowedTypes: ["1-100"]
        afterSendSingleMsg:
          enable: true
          attentionIds: [u1, 42]
    breaker: { failureThreshold: 3, openMs: 1000 }
  app2:
    openim:
      webhooks:
        url: https://hooks.example.com/openim
        afterUserOnline: { enable: true }
`;

describe("OpenIM webhooks.yml", () => {
  it("loads seed 004's example with OpenIM's defaults", () => {
    const { webhooks, warnings } = parseOpenImWebhooks(SEED_004);
    expect(warnings).toEqual([]);
    expect(webhooks.url).toBe("http://127.0.0.1:10006/callbackExample");
    expect(Object.keys(webhooks.hooks)).toEqual(["beforeSendSingleMsg", "beforeUpdateUserInfoEx"]);
    expect(webhooks.hooks["beforeSendSingleMsg"]).toEqual({
      ...POLICY_DEFAULTS,
      enable: false,
      timeout: 5,
      failedContinue: true,
      deniedTypes: [],
      allowedTypes: [],
      attentionIds: [],
    });
  });

  it("loads a full webhooks.yml with all 53 hooks as app default, without warnings", async () => {
    expect(OPENIM_HOOK_KEYS).toHaveLength(53);
    const { apps, warnings } = await loadConfigFile(fullWebhooksFile);
    expect(warnings).toEqual([]);
    expect(apps).toHaveLength(1);
    const app = apps[0]!;
    expect(app.appId).toBe("default");
    expect(app.source).toBe("file");
    expect(app.openim?.url).toBe("http://127.0.0.1:10006/callbackExample");
    expect(Object.keys(app.openim?.hooks ?? {})).toEqual(OPENIM_HOOK_KEYS.map((hook) => hook.key));
    expect(app.openim?.hooks["beforeAddBlack"]?.failedContinue).toBe(false);
    expect(app.openim?.hooks["beforeCreateGroupChatConversations"]?.failedContinue).toBe(false);
    expect(app.openim?.hooks["beforeOfflinePush"]?.failedContinue).toBe(true);
    expect(Object.values(app.openim?.hooks ?? {}).every((hook) => !hook.enable && hook.timeout === 5)).toBe(
      true,
    );
  });

  it("reads content types as ints (main) and strings and ranges (v3.8.3)", () => {
    const { webhooks } = parseOpenImWebhooks({
      beforeSendGroupMsg: { deniedTypes: [101, "102", " 200 - 500 "], allowedTypes: ["1-100", 1500] },
    });
    expect(webhooks.hooks["beforeSendGroupMsg"]?.deniedTypes).toEqual([
      [101, 101],
      [102, 102],
      [200, 500],
    ]);
    expect(webhooks.hooks["beforeSendGroupMsg"]?.allowedTypes).toEqual([
      [1, 100],
      [1500, 1500],
    ]);
  });

  it("warns about unknown keys and hooks with their path, and still loads", () => {
    const { webhooks, warnings } = parseOpenImWebhooks(
      "beforeSendSingleMsg:\n  enable: true\n  faildContinue: false\nbeforeTeleport:\n  enable: true\n",
      { pathPrefix: "apps.app1.openim.webhooks" },
    );
    expect(warnings).toEqual([
      { path: "apps.app1.openim.webhooks.beforeTeleport", message: "unknown key" },
      { path: "apps.app1.openim.webhooks.beforeSendSingleMsg.faildContinue", message: "unknown key" },
    ]);
    expect(webhooks.hooks["beforeSendSingleMsg"]).toMatchObject({ enable: true, failedContinue: true });
    expect(webhooks.hooks["beforeTeleport"]).toBeUndefined();
  });

  it("warns that an async hook's retry and failure settings have no effect, and still loads", () => {
    const { webhooks, warnings } = parseOpenImWebhooks(
      "beforeSendSingleMsg:\n  enable: true\n  async: true\n  failedContinue: false\n  maxRetries: 2\n",
      { pathPrefix: "apps.app1.openim.webhooks" },
    );
    expect(warnings).toEqual([
      {
        path: "apps.app1.openim.webhooks.beforeSendSingleMsg.maxRetries",
        message: "maxRetries has no effect on an async hook: the implied endpoint retries its call",
      },
    ]);
    expect(webhooks.hooks["beforeSendSingleMsg"]).toMatchObject({ enable: true, async: true, maxRetries: 2 });
  });

  it("refuses a bad timeout, naming the field and its line", async () => {
    const err = await refusal(() =>
      parseOpenImWebhooks("url: http://h/cb\nbeforeSendSingleMsg:\n  enable: true\n  timeout: 90\n", {
        file: "webhooks.yml",
      }),
    );
    expect(err.path).toBe("beforeSendSingleMsg.timeout");
    expect(err.file).toBe("webhooks.yml");
    expect(err.line).toBe(4);
    expect(err.message).toContain("beforeSendSingleMsg.timeout");
  });

  it("reads OpenIM's timeout 0 (no per-hook timeout, 15 s client cap) as 15, with a warning", () => {
    const { webhooks, warnings } = parseOpenImWebhooks({
      afterUserOnline: { timeout: 0, failedContinue: false },
    });
    expect(webhooks.hooks["afterUserOnline"]?.timeout).toBe(15);
    expect(warnings.map((w) => w.path)).toEqual([
      "afterUserOnline.failedContinue",
      "afterUserOnline.timeout",
    ]);
  });

  it("refuses an inverted range, naming the list item", async () => {
    const err = await refusal(() =>
      parseOpenImWebhooks({ afterSendGroupMsg: { deniedTypes: [1, "500-200"] } }),
    );
    expect(err.path).toBe("afterSendGroupMsg.deniedTypes.1");
    expect(err.message).toContain("ends before it starts");
  });

  it("names the line of a YAML syntax error", async () => {
    const err = await refusal(() =>
      parseHeraldConfig("apps:\n  app1:\n    openim: {url: http://h\n    breaker: [\n", {
        file: "herald.yml",
      }),
    );
    expect(err.line).toBeGreaterThan(1);
    expect(err.message).toMatch(/^herald\.yml, line \d+: \(root\): YAML syntax error/);
  });
});

describe("Herald's YAML", () => {
  it("loads apps with the webhooks embedded, filling defaults", async () => {
    const { apps, warnings } = await parseHeraldConfig(HERALD_YAML, { file: "herald.yml" });
    expect(warnings).toEqual([]);
    const [app1, app2] = apps;
    expect(app1).toMatchObject({
      appId: "app1",
      openim: { url: "http://127.0.0.1:10006/callbackExample", urlStyle: "query", commandNames: "current" },
      breaker: { failureThreshold: 3, openMs: 1000 },
      source: "file",
    });
    expect(app1?.openim?.hooks["beforeSendSingleMsg"]).toEqual({
      ...POLICY_DEFAULTS,
      enable: true,
      timeout: 3,
      failedContinue: false,
      deniedTypes: [
        [101, 101],
        [200, 500],
        [7, 7],
      ],
      allowedTypes: [[1, 100]],
      attentionIds: [],
    });
    expect(app1?.openim?.hooks["afterSendSingleMsg"]?.attentionIds).toEqual(["u1", "42"]);
    // The webhooks' own url stands in for openim.url; urlStyle, commandNames and breaker default.
    expect(app2).toMatchObject({
      appId: "app2",
      openim: { url: "https://hooks.example.com/openim", urlStyle: "path", commandNames: "seed" },
      breaker: { failureThreshold: 5, openMs: 5000 },
    });
  });

  it("warns about an unknown key in an app", async () => {
    const { apps, warnings } = await parseHeraldConfig(
      "apps:\n  app1:\n    colour: blue\n    openim:\n      url: http://h/cb\n      webhooks:\n        beforeSendSingleMsg: { faildContinue: false }\n",
      { file: "herald.yml" },
    );
    expect(apps).toHaveLength(1);
    expect(warnings).toEqual([
      { path: "apps.app1.colour", message: "unknown key" },
      { path: "apps.app1.openim.webhooks.beforeSendSingleMsg.faildContinue", message: "unknown key" },
    ]);
  });

  it.each([
    [
      "a bad timeout",
      "webhooks: { beforeSendSingleMsg: { timeout: -1 } }",
      "apps.app1.openim.webhooks.beforeSendSingleMsg.timeout",
    ],
    [
      "a timeout that is not a number",
      "webhooks: { afterUserOnline: { timeout: soon } }",
      "apps.app1.openim.webhooks.afterUserOnline.timeout",
    ],
    ["a bad url", "url: ftp://h/cb", "apps.app1.openim.url"],
    ["a url that is not one", "url: not a url", "apps.app1.openim.url"],
    ["a bad urlStyle", "urlStyle: header", "apps.app1.openim.urlStyle"],
    [
      "a provider target that is not grpc://host:port",
      "provider: { targets: [grpc://a:1, http://b:2] }",
      "apps.app1.openim.provider.targets.1",
    ],
    [
      "a bad enable",
      "webhooks: { beforeAddFriend: { enable: yes } }",
      "apps.app1.openim.webhooks.beforeAddFriend.enable",
    ],
  ])("refuses %s, naming the path", async (_name, line, path) => {
    const base = line.startsWith("url:") ? "" : "      url: http://h/cb\n";
    const err = await refusal(() =>
      parseHeraldConfig(`apps:\n  app1:\n    openim:\n${base}      ${line}\n`, { file: "herald.yml" }),
    );
    expect(err.path).toBe(path);
    expect(err.message).toContain(path);
    expect(err.line).toBeGreaterThanOrEqual(4);
  });

  it("reads an openim provider, the same in a file as in the admin API", async () => {
    const { apps, warnings } = await parseHeraldConfig(
      "apps:\n  app1:\n    openim:\n      url: http://h/cb\n      provider: { targets: [grpc://a:1] }\n",
      { file: "herald.yml" },
    );
    expect(warnings).toEqual([]);
    expect(apps[0]?.openim?.provider).toEqual({ targets: ["grpc://a:1"] });
    expect(validateAppConfig(apps[0]).openim?.provider).toEqual({ targets: ["grpc://a:1"] });
  });

  it("refuses an app without any URL", async () => {
    const err = await refusal(() =>
      parseHeraldConfig("apps:\n  app1:\n    openim:\n      urlStyle: path\n", { file: "herald.yml" }),
    );
    expect(err.path).toBe("apps.app1.openim.url");
  });

  it("reads webhooksFile relative to the YAML file, with the logical path (not its keys) in warnings", async () => {
    const read: string[] = [];
    const { apps, warnings } = await parseHeraldConfig(
      "apps:\n  app1:\n    openim:\n      webhooksFile: ./openim/webhooks.yml\n",
      {
        file: "/etc/herald/herald.yml",
        readFile: (path) => {
          read.push(path);
          return Promise.resolve(`${SEED_004}afterUserOffline:\n  enable: true\n  faildContinue: true\n`);
        },
      },
    );
    expect(read).toEqual(["/etc/herald/openim/webhooks.yml"]);
    expect(apps[0]?.openim?.url).toBe("http://127.0.0.1:10006/callbackExample");
    expect(Object.keys(apps[0]?.openim?.hooks ?? {})).toEqual([
      "beforeSendSingleMsg",
      "beforeUpdateUserInfoEx",
      "afterUserOffline",
    ]);
    expect(warnings).toEqual([
      {
        path: "apps.app1.openim.webhooks.afterUserOffline.[?]",
        message: "unknown key (line 14) (in /etc/herald/openim/webhooks.yml)",
      },
    ]);
  });

  it("names the webhooksFile and the field when a value in it is bad", async () => {
    const err = await refusal(() =>
      parseHeraldConfig("apps:\n  app1:\n    openim:\n      webhooksFile: hooks.yml\n", {
        file: "/srv/herald.yml",
        readFile: () => Promise.resolve("url: http://h/cb\nbeforeMsgModify:\n  timeout: 0.0.1\n"),
      }),
    );
    expect(err.file).toBe("/srv/hooks.yml");
    expect(err.path).toBe("apps.app1.openim.webhooks.beforeMsgModify.timeout");
    expect(err.line).toBe(3);
  });

  it("loads a plain webhooks.yml from disk as app default", async () => {
    const text = await readFile(fullWebhooksFile, "utf8");
    const { apps } = await parseHeraldConfig(text, { file: fullWebhooksFile });
    expect(apps.map((app) => app.appId)).toEqual(["default"]);
  });
});

describe("hookConfig", () => {
  const app = validateAppConfig({
    appId: "app1",
    openim: { url: "http://h/cb", hooks: { beforeSendSingleMsg: { enable: true, timeout: 2 } } },
  });

  it("gives the app's settings, defaults filled", () => {
    expect(hookConfig(app, "beforeSendSingleMsg")).toMatchObject({
      enable: true,
      timeout: 2,
      failedContinue: true,
    });
  });

  it("gives OpenIM's defaults for a hook the app does not set, per key", () => {
    expect(hookConfig(app, "beforeOnlinePush")).toEqual({
      ...POLICY_DEFAULTS,
      enable: false,
      timeout: 5,
      failedContinue: true,
      deniedTypes: [],
      allowedTypes: [],
      attentionIds: [],
    });
    expect(hookConfig(app, "beforeAddBlack").failedContinue).toBe(false);
  });

  it("validateAppConfig refuses an unknown hook and fills source api", async () => {
    expect(app.source).toBe("api");
    const err = await refusal(() =>
      validateAppConfig({ appId: "a", openim: { url: "http://h", hooks: { beforeTeleport: {} } } }, "apps.a"),
    );
    expect(err.path).toBe("apps.a.openim.hooks.beforeTeleport");
  });
});
