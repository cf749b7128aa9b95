// The admin API client: one place that adds the token and turns error bodies into ApiError.

const TOKEN_KEY = "herald.admin.token";

export function loadToken() {
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

export function saveToken(token) {
  if (token === "") localStorage.removeItem(TOKEN_KEY);
  else localStorage.setItem(TOKEN_KEY, token);
}

/** A failed request, carrying the API's `{error: {code, message, field}}` when there was one. */
export class ApiError extends Error {
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

/** `/v1/apps/{appId}/…` with every path segment escaped. */
export function appPath(appId, ...segments) {
  return ["/v1/apps", appId, ...segments].map((s, i) => (i === 0 ? s : encodeURIComponent(s))).join("/");
}

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
 * it is (a webhooks.yml import).
 */
async function call(method, path, { query, body, accept = "application/json", contentType } = {}) {
  const url = withQuery(path, query);
  const request = `${method} ${url}`;
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
    throw new ApiError(request, 0, { code: "network", message: String(err?.message ?? err) });
  }
  const text = await res.text();
  if (!res.ok) {
    let error;
    try {
      error = JSON.parse(text).error;
    } catch {
      // Not the API's error shape (a proxy, a crash page): show the text itself.
    }
    if (error == null || typeof error.message !== "string") {
      error = { code: "", message: text.slice(0, 500) || res.statusText };
    }
    throw new ApiError(request, res.status, error);
  }
  if (accept !== "application/json") return text;
  return text === "" ? {} : JSON.parse(text);
}

export const api = {
  get: (path, query) => call("GET", path, { query }),
  post: (path, body) => call("POST", path, { body }),
  put: (path, body) => call("PUT", path, { body }),
  del: (path) => call("DELETE", path),
  /** PUT of a text body (say `application/yaml`); the answer is JSON. */
  putText: (path, text, contentType) => call("PUT", path, { body: text, contentType }),
  text: (path) => call("GET", path, { accept: "text/yaml, text/plain, */*" }),
};
