// The admin API client: one place that adds the token and turns error bodies into ApiError.

/** @typedef {import("./types.js").ApiFailure} ApiFailure */
/** @typedef {import("./types.js").Query} Query */

const TOKEN_KEY = "herald.admin.token";

export function loadToken() {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

/** @param {string} token */
export function saveToken(token) {
  if (token === "") localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

/** A failed request, carrying the API's `{error: {code, message, field}}` when there was one. */
export class ApiError extends Error {
  /**
   * @param {string} request "METHOD /path?query"
   * @param {number} status 0 when no answer came
   * @param {ApiFailure} error
   */
  constructor(request, status, error) {
    super(error.message);
    this.name = "ApiError";
    this.request = request;
    this.status = status;
    this.code = error.code;
    this.field = error.field;
  }

  /** "POST /v1/… → 404 not_found: no such app (field: appId)" */
  describe() {
    const status = this.status === 0 ? "network error" : `${this.status} ${this.code ?? ""}`.trim();
    const field = this.field ? ` (field: ${this.field})` : "";
    return `${this.request} → ${status}: ${this.message}${field}`;
  }
}

/**
 * `/v1/apps/{appId}/…` with every path segment escaped.
 * @param {string} appId
 * @param {...string} segments
 */
export function appPath(appId, ...segments) {
  return ["/v1/apps", appId, ...segments].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join("/");
}

/**
 * @param {string} path
 * @param {Query} [query]
 */
function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value != null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text === "" ? path : `${path}?${text}`;
}

/**
 * One request. `body` goes as JSON unless `contentType` names another type, then it is sent as the text
 * it is (a webhooks.yml import). The answer is the API's JSON (the caller says which shape it is), or
 * the text itself when `accept` asks for another type.
 * @param {"GET" | "POST" | "PUT" | "DELETE"} method
 * @param {string} path
 * @param {{ query?: Query, body?: unknown, accept?: string, contentType?: string }} [options]
 * @returns {Promise<unknown>}
 */
async function call(method, path, { query, body, accept = "application/json", contentType } = {}) {
  const url = withQuery(path, query);
  const request = `${method} ${url}`;
  /** @type {Record<string, string>} */
  const headers = { accept };
  const token = loadToken();
  if (token !== "") headers.authorization = `Bearer ${token}`;
  const hasBody = method !== "GET" && method !== "DELETE";
  // Fastify refuses an empty JSON body, so a POST without arguments sends {}.
  if (hasBody) headers["content-type"] = contentType ?? "application/json";
  let payload;
  if (hasBody) payload = contentType === undefined ? JSON.stringify(body ?? {}) : String(body ?? "");
  let res;
  try {
    res = await fetch(url, { method, headers, body: payload });
  } catch (err) {
    throw new ApiError(request, 0, { code: "network", message: messageOf(err) });
  }
  const text = await res.text();
  if (!res.ok) {
    /** @type {unknown} */
    let error;
    try {
      error = JSON.parse(text).error;
    } catch {
      // Not the API's error shape (a proxy, a crash page): show the text itself.
    }
    if (!isFailure(error)) {
      error = { code: "", message: text.slice(0, 500) || res.statusText };
    }
    throw new ApiError(request, res.status, /** @type {ApiFailure} */ (error));
  }
  if (accept !== "application/json") return text;
  return text === "" ? {} : JSON.parse(text);
}

/**
 * The API's `{code, message, field}`: a message that is text is what the panel needs to show it (its code is
 * taken as the API's).
 * @param {unknown} error
 * @returns {error is ApiFailure}
 */
function isFailure(error) {
  return (
    typeof error === "object" && error !== null && "message" in error && typeof error.message === "string"
  );
}

/**
 * What an error says, whatever was thrown.
 * @param {unknown} err
 */
export function messageOf(err) {
  return String(typeof err === "object" && err !== null && "message" in err ? (err.message ?? err) : err);
}

/**
 * An error as the operator reads it: an ApiError with its request, status and field, else its message.
 * @param {unknown} err
 */
export function describeError(err) {
  return err instanceof ApiError ? err.describe() : messageOf(err);
}

/**
 * The field a refusal names ("" when none): an ApiError's, or one the panel names itself.
 * @param {unknown} err
 */
export function fieldOf(err) {
  return typeof err === "object" && err !== null && "field" in err && typeof err.field === "string"
    ? err.field
    : "";
}

/** Each answer is `unknown` until the caller says which of the API's shapes it is. */
export const api = {
  /** @type {(path: string, query?: Query) => Promise<unknown>} */
  get: (path, query) => call("GET", path, { query }),
  /** @type {(path: string, body?: unknown) => Promise<unknown>} */
  post: (path, body) => call("POST", path, { body }),
  /** @type {(path: string, body?: unknown) => Promise<unknown>} */
  put: (path, body) => call("PUT", path, { body }),
  /** @type {(path: string) => Promise<unknown>} */
  del: (path) => call("DELETE", path),
  /**
   * PUT of a text body (say `application/yaml`); the answer is JSON.
   * @type {(path: string, text: string, contentType: string) => Promise<unknown>}
   */
  putText: (path, text, contentType) => call("PUT", path, { body: text, contentType }),
  /** @type {(path: string) => Promise<string>} */
  text: (path) =>
    /** @type {Promise<string>} */ (call("GET", path, { accept: "text/yaml, text/plain, */*" })),
};
