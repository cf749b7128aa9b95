// DOM building and formatting. Everything the API returns goes into text nodes or attributes,
// never through innerHTML, so a hostile endpoint URL or response body renders as text.

/** @typedef {import("./types.js").Content} Content */
/**
 * An element's props: strings and numbers become attributes, true an empty one, null, undefined and false
 * none; functions are `on<event>` listeners.
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>} Props
 */

/**
 * Builds an element. Props: `class`, `testid` (data-testid), `on<event>` listeners, `data-*` and
 * other attributes; `value`, `checked`, `disabled`, `selected` set the live property.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...Content} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = String(value);
    else if (key === "testid") el.setAttribute("data-testid", String(value));
    else if (key === "value" || key === "checked" || key === "disabled" || key === "selected")
      Object.assign(el, { [key]: value });
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Content[]} children
 */
function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Replaces an element's content.
 * @param {Element} el
 * @param {...Content} children
 */
export function show(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** @type {(n: number, width?: number) => string} */
const pad = (n, width = 2) => String(n).padStart(width, "0");

/**
 * Local time, to the millisecond: deliveries of one event are often milliseconds apart.
 * @param {string | number | Date | null | undefined} value
 */
export function formatTime(value) {
  if (value == null || value === "") return "";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/**
 * JSON bodies indented for reading; anything else as it came.
 * @param {string | null | undefined} text
 */
export function prettyBody(text) {
  if (text == null || text === "") return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

/**
 * A table with a header row; `rows` are <tr> elements.
 * @param {string} testid
 * @param {string[]} headers
 * @param {Content[]} rows
 */
export function table(testid, headers, rows) {
  return h(
    "table",
    { testid },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        headers.map((name) => h("th", {}, name)),
      ),
    ),
    h("tbody", {}, rows),
  );
}

/**
 * A labelled value for a definition-like list of facts.
 * @param {string} label
 * @param {Content} value
 */
export function fact(label, value) {
  return h("div", { class: "fact" }, h("span", { class: "label" }, label), h("span", {}, value ?? ""));
}
