import { eventTypeMatches } from "@herald/config";
import type { EndpointConfig } from "@herald/config";
import { deliveryIdHeader, dialectOf } from "@herald/dialects";
import type { DialectDefinition, HttpRequestSpec, RenderItem } from "@herald/dialects";
import type { Event } from "@herald/proto";
import { TerminalError } from "@herald/runtime";

/** The dialect an endpoint speaks. */
export function dialectOfEndpoint(endpoint: Pick<EndpointConfig, "dialect">): DialectDefinition {
  return dialectOf(endpoint.dialect);
}

/** Whether the endpoint's dialect says `event` to it (its `says`, given the endpoint's event types). */
export function endpointSays(
  endpoint: Pick<EndpointConfig, "dialect" | "eventTypes">,
  event: Event,
): boolean {
  const says = dialectOfEndpoint(endpoint).says;
  return says === undefined || says(event, (type) => eventTypeMatches(endpoint.eventTypes, type));
}

/** A TerminalError (a dead delivery, never retried) for an event the endpoint's dialect cannot say. */
export function checkSays(endpoint: EndpointConfig, event: Event): void {
  if (!endpointSays(endpoint, event)) {
    throw new TerminalError(`the ${endpoint.dialect} dialect has no callback for event ${event.id}`);
  }
}

/**
 * The request for `items` (one, or a batch for a dialect that sends arrays), rendered at send time so
 * a URL or secret changed since routing applies and a retry is signed afresh; every request carries the
 * delivery id(s) its receiver deduplicates on. A render that fails is a TerminalError.
 */
export function renderRequest(
  endpoint: EndpointConfig,
  items: readonly RenderItem[],
  now: Date,
): HttpRequestSpec {
  const dialect = dialectOfEndpoint(endpoint);
  const settingsKey = dialect.settings?.key;
  try {
    const spec = dialect.render({
      url: endpoint.url,
      settings:
        settingsKey === undefined ? undefined : (endpoint as unknown as Record<string, unknown>)[settingsKey],
      secrets: signingSecrets(endpoint, now),
      items,
      now,
    });
    return { ...spec, headers: { ...spec.headers, ...deliveryIdHeader(items.map((i) => i.deliveryId)) } };
  } catch (err) {
    throw new TerminalError((err as Error).message, { cause: err });
  }
}

/** The secrets that sign now: every one not yet expired, newest first (both, during a rotation's overlap). */
export function signingSecrets(endpoint: EndpointConfig, now: Date): string[] {
  return endpoint.secrets
    .filter((s) => s.expiresAt === undefined || Date.parse(s.expiresAt) > now.getTime())
    .map((s) => s.value);
}
