import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  MAX_URL_BYTES,
  MAX_YAML_BYTES,
  MAX_YAML_DEPTH,
  loadConfigFile,
  parseHeraldConfig,
  parseOpenImWebhooks,
  validateAppConfig,
  validateEndpoint,
} from "./index.js";
import { refusal } from "./__fixtures__/refusal.js";

// Each level multiplies by 9: 9^9 (387 million) strings once expanded.
const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...["b", "c", "d", "e", "f", "g", "h", "i"].map(
    (name, i) => `${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(",")}]`,
  ),
].join("\n");

const APP = (openim: string) => `apps:\n  app1:\n    openim:\n${openim}`;

describe("YAML resource limits", () => {
  it("refuses an alias bomb with a clear error instead of expanding it", async () => {
    const err = await refusal(() => parseOpenImWebhooks(`${ALIAS_BOMB}\n`, { file: "webhooks.yml" }));
    expect(err.message).toMatch(/alias/i);
    const fromFile = await refusal(() => parseHeraldConfig(`${ALIAS_BOMB}\n`, { file: "herald.yml" }));
    expect(fromFile.message).toMatch(/alias/i);
  });

  it("keeps a few aliases working (shared hook settings)", () => {
    const { webhooks } = parseOpenImWebhooks(
      "url: http://h/cb\nbeforeSendSingleMsg: &on { enable: true, timeout: 3 }\nbeforeSendGroupMsg: *on\n",
    );
    expect(webhooks.hooks["beforeSendGroupMsg"]?.timeout).toBe(3);
  });

  it.each([
    ["flow", `a: ${"[".repeat(MAX_YAML_DEPTH + 1)}${"]".repeat(MAX_YAML_DEPTH + 1)}\n`],
    ["flow, very deep", `a: ${"[".repeat(200_000)}\n`],
    [
      "block",
      Array.from({ length: MAX_YAML_DEPTH + 2 }, (_, i) => `${" ".repeat(i * 2)}k${i}:`).join("\n") + " 1\n",
    ],
    ["block sequences", `a:\n  ${"- ".repeat(MAX_YAML_DEPTH + 1)}x\n`],
  ])("refuses YAML nested deeper than the limit (%s), naming the line", async (_name, text) => {
    const err = await refusal(() => parseHeraldConfig(text, { file: "herald.yml" }));
    expect(err.message).toContain(`nested deeper than ${MAX_YAML_DEPTH} levels`);
    expect(err.line).toBeGreaterThanOrEqual(1);
  });

  it("refuses a document over the size limit before parsing it", async () => {
    const text = `a: "${"x".repeat(MAX_YAML_BYTES)}"\n`;
    const err = await refusal(() => parseHeraldConfig(text, { file: "herald.yml" }));
    expect(err.message).toContain(`larger than ${MAX_YAML_BYTES} bytes`);
  });

  it("refuses NUL and other control characters, naming the line", async () => {
    const err = await refusal(() =>
      parseHeraldConfig(`${APP("      url: http://h/cb\n")}    breaker: {openMs: 1\u0000}\n`, {
        file: "herald.yml",
      }),
    );
    expect(err.message).toContain("control character");
    expect(err.line).toBe(5);
  });

  it("refuses a file that is not UTF-8, naming the line", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "herald-utf8-"));
    const file = path.join(dir, "herald.yml");
    await writeFile(
      file,
      Buffer.concat([Buffer.from(APP("      url: http://h/cb\n")), Buffer.from([0x23, 0xff, 0xfe, 0x0a])]),
    );
    const err = await refusal(() => loadConfigFile(file));
    expect(err.message).toContain("not valid UTF-8");
    expect(err.line).toBe(5);
  });

  it("refuses duplicate keys, naming the line and not the text", async () => {
    const err = await refusal(() =>
      parseHeraldConfig(`${APP("      url: http://h/cb\n      url: http://h/other\n")}`, {
        file: "herald.yml",
      }),
    );
    expect(err.message).toContain("duplicate key");
    expect(err.line).toBe(5);
  });
});

describe("ids", () => {
  it.each([["a.b"], ["李四"], ["a b"], ["a*"], ["x".repeat(65)]])(
    "refuses the app id %j, saying why ids are limited",
    async (id) => {
      const err = await refusal(() =>
        parseHeraldConfig(`apps:\n  ${JSON.stringify(id)}:\n${"    openim: {url: http://h/cb}\n"}`, {
          file: "herald.yml",
        }),
      );
      expect(err.message).toContain("A-Z a-z 0-9 _ -");
      expect(err.message).toContain("NATS subject");
      expect(err.line).toBe(2);
    },
  );

  it("refuses an endpoint id with a dot, saying why", async () => {
    const err = await refusal(() =>
      parseHeraldConfig(
        "apps:\n  app1:\n    endpoints:\n      a.b: {url: http://h/cb, dialect: mqttchat}\n",
        {
          file: "herald.yml",
        },
      ),
    );
    expect(err.message).toContain("NATS subject");
    expect(err.line).toBe(4);
  });
});

describe("URL length", () => {
  const longUrl = `http://h/${"x".repeat(MAX_URL_BYTES)}`;

  it("refuses a long openim url in the file, naming the field", async () => {
    const err = await refusal(() =>
      parseHeraldConfig(APP(`      url: ${longUrl}\n`), { file: "herald.yml" }),
    );
    expect(err.path).toBe("apps.app1.openim.url");
    expect(err.message).toContain(`at most ${MAX_URL_BYTES} bytes`);
    expect(err.message).not.toContain("xxxxxxxx");
  });

  it("refuses a long url in webhooks.yml, an endpoint and a stored app", async () => {
    expect((await refusal(() => parseOpenImWebhooks(`url: ${longUrl}\n`))).path).toBe("url");
    const endpoint = await refusal(() =>
      validateEndpoint({ id: "e1", url: longUrl, dialect: "mqttchat" }, "endpoint"),
    );
    expect(endpoint.path).toBe("endpoint.url");
    const app = await refusal(() => validateAppConfig({ appId: "a1", openim: { url: longUrl } }));
    expect(app.path).toBe("openim.url");
  });

  it("takes a url of exactly the limit", () => {
    const url = `http://h/${"x".repeat(MAX_URL_BYTES - "http://h/".length)}`;
    expect(validateEndpoint({ id: "e1", url, dialect: "mqttchat" }).url).toBe(url);
  });
});

describe("files a config file references", () => {
  const SHADOW = "root:$6$salt$c2VjcmV0aGFzaA:19000:0:99999:7:::\nhunter2: x\n";

  async function layout() {
    const root = await mkdtemp(path.join(tmpdir(), "herald-include-"));
    const dir = path.join(root, "etc");
    await mkdir(path.join(dir, "openim"), { recursive: true });
    await writeFile(path.join(root, "shadow"), SHADOW);
    await writeFile(path.join(dir, "openim", "webhooks.yml"), "url: http://h/cb\n");
    return { root, dir, file: path.join(dir, "herald.yml") };
  }

  const withWebhooksFile = (ref: string) => `apps:\n  app1:\n    openim:\n      webhooksFile: ${ref}\n`;

  it("reads a file under the config file's directory", async () => {
    const { file } = await layout();
    await writeFile(file, withWebhooksFile("./openim/webhooks.yml"));
    const { apps } = await loadConfigFile(file);
    expect(apps[0]?.openim?.url).toBe("http://h/cb");
  });

  it.each([["../shadow"], ["ABS"], ["./openim/../../shadow"], ["./link.yml"]])(
    "refuses %s outside it, naming the key and never the content",
    async (ref) => {
      const { root, dir, file } = await layout();
      await symlink(path.join(root, "shadow"), path.join(dir, "link.yml"));
      await writeFile(file, withWebhooksFile(ref === "ABS" ? path.join(root, "shadow") : ref));
      const err = await refusal(() => loadConfigFile(file));
      expect(err.path).toBe("apps.app1.openim.webhooksFile");
      expect(err.line).toBe(4);
      expect(err.message).toContain("outside");
      expect(err.message).not.toMatch(/root:|hunter2|c2VjcmV0/);
    },
  );

  it("reads a file in a directory allowed by includeDirs", async () => {
    const { root, file } = await layout();
    await writeFile(file, withWebhooksFile("../shadow"));
    // Allowed, so read: it is no webhooks.yml, and what it holds is still not echoed.
    const loaded = await loadConfigFile(file, { includeDirs: [root] }).catch((err: unknown) => err);
    const text = loaded instanceof Error ? loaded.message : JSON.stringify(loaded);
    expect(text).not.toMatch(/root:|hunter2|c2VjcmV0/);
  });

  it("never echoes keys or values of a referenced file in warnings and errors", async () => {
    const { dir, file } = await layout();
    await writeFile(path.join(dir, "secrets.yml"), SHADOW);
    await writeFile(file, withWebhooksFile("./secrets.yml"));
    const loaded = await loadConfigFile(file).catch((err: unknown) => err);
    const text = loaded instanceof Error ? loaded.message : JSON.stringify(loaded);
    expect(text).not.toMatch(/root:|c2VjcmV0/);
    const scalar = path.join(dir, "scalar.yml");
    await writeFile(scalar, "password-is-hunter2\n");
    await writeFile(file, withWebhooksFile("./scalar.yml"));
    const err = await refusal(() => loadConfigFile(file));
    expect(err.message).not.toContain("hunter2");
  });

  it("does not echo a value of the main file in its errors", async () => {
    const err = await refusal(() =>
      parseHeraldConfig("apps:\n  app1: secret-token-value\n", { file: "herald.yml" }),
    );
    expect(err.message).not.toContain("secret-token-value");
    expect(err.line).toBe(2);
  });
});
