// JetStream's "wrong last sequence" (10071, 10164 when unknown); kv.create on an existing key says the same.
export function isWrongRevision(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as Error & { code?: unknown }).code;
  return code === 10071 || code === 10164 || /wrong last sequence|key exists/i.test(err.message);
}
