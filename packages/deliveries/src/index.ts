export {
  endpointStateOf,
  forgetEndpointState,
  replayDelivery,
  replayStored,
  sendTestEvent,
  setEndpointState,
} from "./commands.js";
export type { StoredDelivery } from "./commands.js";
export { TEST_EVENT_TYPES, testEvent } from "./test-event.js";
export type { TestEventType } from "./test-event.js";
