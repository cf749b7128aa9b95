/** Bounds on configuration input, one place for each: the file, the admin API and the docs read them here. */

/** A YAML document (Herald's file, a webhooks.yml, an admin import) larger than this is refused unread. */
export const MAX_YAML_BYTES = 4 * 1024 * 1024;

/** Nesting of mappings, sequences and flow brackets together; Herald's own YAML needs fewer than 10. */
export const MAX_YAML_DEPTH = 32;

/** Alias expansions the YAML reader allows (yaml's count weighs each by its size): stops "billion laughs". */
export const MAX_YAML_ALIAS_COUNT = 100;

export { MAX_URL_BYTES } from "@herald/dialects";
