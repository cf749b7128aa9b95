import type { Bus } from "@herald/bus";
import type { ConfigView, EndpointState, EndpointStateEntry } from "@herald/config";
import { writeEndpointState } from "@herald/config";
import { ConflictError } from "@herald/runtime";
import type { Logger } from "@herald/runtime";
import type { EndpointStateSample } from "./metrics.js";
import { endpointsOf } from "./routes.js";

/** Every endpoint's state (the implied openim one too) as the config view holds it (no state on record: active). */
export function* endpointStates(view: ConfigView): Iterable<EndpointStateSample> {
  for (const app of view.apps()) {
    for (const endpoint of endpointsOf(app)) {
      const state = view.endpointState(app.appId, endpoint.id)?.state;
      yield {
        app: app.appId,
        endpoint: endpoint.id,
        state: state?.state ?? "active",
        failing: state?.failing !== undefined,
      };
    }
  }
}

/**
 * One endpoint's state as this process knows it: the CONFIG value, or this process's own newer write
 * until the watch brings it back. Writes are compare-and-set, so a re-enable from the admin API is
 * never overwritten by a deliverer that had not seen it.
 */
export class EndpointStateCell {
  private own: EndpointStateEntry | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly view: ConfigView,
    private readonly appId: string,
    private readonly endpointId: string,
    private readonly log: Logger,
  ) {}

  current(): EndpointStateEntry | undefined {
    const seen = this.view.endpointState(this.appId, this.endpointId);
    if (this.own === undefined) return seen;
    if (seen !== undefined && seen.revision >= this.own.revision) {
      this.own = undefined;
      return seen;
    }
    return this.own;
  }

  /** Writes `next` over the state read now; false when someone else wrote first (theirs stands). */
  async write(next: EndpointState): Promise<boolean> {
    const previousRevision = this.current()?.revision ?? 0;
    try {
      const revision = await writeEndpointState(this.bus, this.appId, this.endpointId, next, {
        previousRevision,
      });
      this.own = { state: next, revision };
      return true;
    } catch (err) {
      if (err instanceof ConflictError) return false;
      this.log.error({ err, state: next.state }, "could not write endpoint state");
      return false;
    }
  }
}
