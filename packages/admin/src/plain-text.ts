import { ValidationError } from "@herald/runtime";
import type { AdminApp } from "./context.js";

// C0, DEL and C1 controls are part of no id, filter or page token; Postgres refuses NUL outright.
const CONTROL_CHARACTER = /\p{Cc}/u;

function checkValues(values: unknown): void {
  if (typeof values !== "object" || values === null) return;
  for (const [field, value] of Object.entries(values)) {
    for (const text of Array.isArray(value) ? value : [value]) {
      if (typeof text === "string" && CONTROL_CHARACTER.test(text)) {
        throw new ValidationError(`${field}: must not contain control characters`, { field });
      }
    }
  }
}

/**
 * Every path parameter and query value of every route is text without control characters, checked
 * before the route's own schema, so none reaches the bus or the log store.
 */
export function installPlainTextChecks(app: AdminApp): void {
  app.addHook("preValidation", (request, _reply, done) => {
    try {
      checkValues(request.params);
      checkValues(request.query);
      done();
    } catch (err) {
      done(err as Error);
    }
  });
}
