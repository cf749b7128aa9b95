import { ApiError, api, appPath } from "./api.js";
import { fact, h, show, table } from "./dom.js";
import { act, button, card, formError } from "./section.js";

/** @typedef {import("./types.js").HookSettings} HookSettings */
/** @typedef {import("./types.js").ImportResult} ImportResult */
/** @typedef {import("./types.js").ConfigWarning} ConfigWarning */

/** @type {(list: Array<[number, number]> | undefined) => string} */
const ranges = (list) => (list ?? []).map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(", ");
/** @type {(value: boolean | undefined) => string} */
const yesNo = (value) => (value ? "yes" : "no");
/**
 * A config warning `{path, message}` (a plain string is shown as it is).
 * @type {(w: ConfigWarning | string) => string}
 */
const warningText = (w) =>
  typeof w === "string" ? w : `${w?.path ? `${w.path}: ` : ""}${w?.message ?? JSON.stringify(w)}`;

// What the import box starts with when the app has no hook settings yet: OpenIM's own spelling.
const YAML_TEMPLATE =
  "url: https://\nbeforeSendSingleMsg:\n  enable: false\n  timeout: 5\n  failedContinue: true\n";

/**
 * The app's OpenIM hook settings, their export as OpenIM's webhooks.yml, and its import.
 * @param {import("./types.js").SectionContext} ctx
 * @returns {import("./types.js").Section}
 */
export function hooksSection(ctx) {
  const refreshButton = button("Refresh", "hooks-refresh", () => void refresh());
  const exportButton = button("Show webhooks.yml", "hooks-export");
  const importButton = button("Import webhooks.yml", "hooks-import");
  const section = card({
    title: "Hook settings",
    testid: "hooks",
    tools: [importButton, exportButton, refreshButton],
  });
  const importBox = h("div", { testid: "hooks-import-box" });
  const warnings = h("div", { testid: "import-warnings-box" });
  const settings = h("div");
  const yaml = h("div");
  show(section.body, importBox, warnings, settings, yaml);

  importButton.addEventListener(
    "click",
    act(importButton, ctx.fail, async () => {
      // Start from what the app has, so an import is also a way to edit it.
      let text = YAML_TEMPLATE;
      try {
        text = await api.text(appPath(ctx.appId, "webhooks.yml"));
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404 && err.field === OPENIM_BLOCK)) throw err;
      }
      openImport(text);
    }),
  );

  /** The app's block of OpenIM webhooks.yml settings: a 404 naming it means the app has none yet. */
  const OPENIM_BLOCK = "openim";

  /** @param {string} text */
  function openImport(text) {
    const error = formError("hooks-import-error");
    const input = h("textarea", {
      testid: "webhooks-yml-input",
      class: "json",
      rows: 12,
      spellcheck: "false",
      "aria-label": "webhooks.yml",
    });
    input.value = text;
    const send = button("Import", "webhooks-yml-import", null, { class: "primary" });
    send.addEventListener(
      "click",
      act(send, error.set, async () => {
        error.set(null);
        const result = /** @type {ImportResult} */ (
          await api.putText(appPath(ctx.appId, "webhooks.yml"), input.value, "application/yaml")
        );
        show(importBox);
        showWarnings(result.warnings ?? []);
        const count = result.warnings?.length ?? 0;
        ctx.notify(
          `webhooks.yml imported${count === 0 ? "." : ` with ${count} warning${count === 1 ? "" : "s"}.`}`,
        );
        // New hook settings may imply an endpoint (or change its URL).
        ctx.onAppChanged?.();
        await refresh();
      }),
    );
    const cancel = button("Cancel", "webhooks-yml-cancel", () => show(importBox));
    show(
      importBox,
      h(
        "div",
        { class: "panel" },
        h("h3", {}, "Import OpenIM's webhooks.yml"),
        h(
          "p",
          { class: "small muted" },
          "Replaces the hook settings (url and hooks); the app's endpoints stay as they are.",
        ),
        input,
        error.el,
        h("div", { class: "inline-form" }, send, cancel),
      ),
    );
    input.focus();
  }

  /** @param {Array<ConfigWarning | string>} list */
  function showWarnings(list) {
    if (list.length === 0) {
      show(warnings);
      return;
    }
    show(
      warnings,
      h(
        "div",
        { class: "message notice", testid: "import-warnings" },
        h(
          "div",
          {},
          h("strong", {}, "Import warnings"),
          h(
            "ul",
            {},
            list.map((w) => h("li", { testid: "import-warning" }, warningText(w))),
          ),
        ),
        button("×", "import-warnings-dismiss", () => show(warnings), { class: "dismiss", title: "Dismiss" }),
      ),
    );
  }

  exportButton.addEventListener(
    "click",
    act(exportButton, ctx.fail, async () => {
      const text = await api.text(appPath(ctx.appId, "webhooks.yml"));
      const download = h(
        "a",
        {
          href: URL.createObjectURL(new Blob([text], { type: "text/yaml" })),
          download: `webhooks-${ctx.appId}.yml`,
          testid: "webhooks-yml-download",
        },
        "Download",
      );
      show(
        yaml,
        h("div", { class: "card-head" }, h("h3", {}, "webhooks.yml"), download),
        h("pre", { testid: "webhooks-yml" }, text),
      );
    }),
  );

  async function refresh() {
    try {
      const hooks = /** @type {HookSettings} */ (await api.get(appPath(ctx.appId, "hooks")));
      section.error(null);
      exportButton.disabled = false;
      render(hooks);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.field === OPENIM_BLOCK) {
        section.error(null);
        exportButton.disabled = true;
        show(yaml);
        show(
          settings,
          h("p", { class: "muted", testid: "hooks-none" }, "This app has no OpenIM hook settings."),
        );
        return;
      }
      section.error(err);
    }
  }

  /** @param {HookSettings} block */
  function render(block) {
    const entries = Object.entries(block.hooks ?? {}).sort(([a], [b]) => a.localeCompare(b));
    show(
      settings,
      h(
        "div",
        { class: "facts" },
        fact("URL", block.url),
        fact("URL style", block.urlStyle),
        fact("Command names", block.commandNames),
      ),
      entries.length === 0
        ? h("p", { class: "muted" }, "No hooks set.")
        : table(
            "hooks-table",
            [
              "Hook",
              "Enabled",
              "Timeout",
              "Failed: continue",
              "Allowed types",
              "Denied types",
              "Attention ids",
            ],
            entries.map(([key, hook]) =>
              h(
                "tr",
                { testid: "hook-row", "data-hook": key, class: hook.enable ? "" : "muted" },
                h("td", { class: "mono" }, key),
                h("td", {}, yesNo(hook.enable)),
                h("td", { class: "num" }, hook.timeout != null ? `${hook.timeout} s` : ""),
                h("td", {}, key.startsWith("before") ? yesNo(hook.failedContinue) : "—"),
                h("td", {}, ranges(hook.allowedTypes)),
                h("td", {}, ranges(hook.deniedTypes)),
                h("td", { class: "small" }, (hook.attentionIds ?? []).join(", ")),
              ),
            ),
          ),
    );
  }

  return { root: section.root, refresh };
}
