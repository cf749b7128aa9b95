import { RefusedError, UnreachableError, UsageError } from "./errors.js";
import type { Target } from "./target.js";

/** The admin API's error body (packages/admin/src/errors.ts). */
interface ErrorBody {
  error?: { code?: string; message?: string; field?: string };
}

export type Query = Record<string, string | number | undefined>;

/** The admin HTTP API, as the admin token (or an app key) calls it. */
export class AdminClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  static of(target: Target): AdminClient {
    if (target.adminToken === undefined) {
      throw new UsageError(
        "--token",
        `no admin token: give --token, set ADMIN_TOKEN, or run this where npm start keeps ${target.home}/admin-token (or set HERALD_HOME)`,
      );
    }
    return new AdminClient(target.admin, target.adminToken);
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return this.call<T>("GET", path, undefined, query);
  }

  /** One request; the answer's JSON, or RefusedError with the API's message and field. */
  async call<T>(method: string, path: string, body?: unknown, query: Query = {}): Promise<T> {
    const url = new URL(`${this.base}${path}`);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== "") url.searchParams.set(key, String(value));
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UnreachableError(
        `cannot reach the admin API at ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        { cause: err },
      );
    }
    const text = await res.text();
    if (!res.ok) {
      const parsed = parseJson(text) as ErrorBody | undefined;
      const message = parsed?.error?.message ?? (text.trim() || res.statusText);
      throw new RefusedError(String(res.status), message, parsed?.error?.field);
    }
    return (text === "" ? undefined : parseJson(text)) as T;
  }
}

/** A path segment: ids may hold any Unicode (user ids) or ':' (event and delivery ids). */
export function segment(id: string): string {
  return encodeURIComponent(id);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
