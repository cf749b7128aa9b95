import { api, appPath } from "./api.js";
import { fact, h, show, table } from "./dom.js";
import { act, button, card } from "./section.js";

const ranges = (list) => (list ?? []).map(([lo, hi]) => (lo === hi ? String(lo) : `${lo}-${hi}`)).join(", ");
const yesNo = (value) => (value ? "yes" : "no");

/** The app's OpenIM hook settings, and their export as OpenIM's webhooks.yml. */
export function hooksSection(ctx) {
  const refreshButton = button("Refresh", "hooks-refresh", () => void refresh());
  const exportButton = button("Show webhooks.yml", "hooks-export");
  const section = card({ title: "Hook settings", testid: "hooks", tools: [exportButton, refreshButton] });
  const settings = h("div");
  const yaml = h("div");
  show(section.body, settings, yaml);

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
      const hooks = await api.get(appPath(ctx.appId, "hooks"));
      section.error(null);
      exportButton.disabled = false;
      render(hooks);
    } catch (err) {
      if (err.status === 404 && err.field === "openim") {
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
