/**
 * True when a compare-and-set lost: JetStream's "wrong last sequence" (10071, 10164 when unknown),
 * from a KV update or create (nats.js puts it in `code`; create on an existing key says "key
 * exists") or from a batch of publishMany (StreamRefusedError's `errCode`).
 */
export function isWrongRevision(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, errCode } = err as Error & { code?: unknown; errCode?: unknown };
  const jetstreamCode = code ?? errCode;
  return (
    jetstreamCode === 10071 || jetstreamCode === 10164 || /wrong last sequence|key exists/i.test(err.message)
  );
}
