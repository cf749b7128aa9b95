export {
  endpointStateOf,
  forgetEndpointState,
  replayDeliveries,
  replayDelivery,
  replayStored,
  sendTestEvent,
  setEndpointState,
} from "./commands.js";
export type { StoredDelivery, StoredEndpointDelivery } from "./commands.js";
export { TEST_EVENT_TYPES, testEvent } from "./test-event.js";
export type { TestEventType } from "./test-event.js";
