/**
 * Messages one batch's write keeps unanswered at most (publishMany's window). Without a bound a node.reset's batch sent
 * every derived event and state of a partition at once (100,000 requests over 16 partitions):
 * nats.js timed them out on the client while they waited to be written, the partitions failed
 * and loaded again, and the event loop was too busy to renew leases. A few hundred keep a local
 * nats-server as busy as thousands do.
 */
export const WRITES_IN_FLIGHT = 256;
