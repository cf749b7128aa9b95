import type { BeforeHook, DialectBefore, DialectDefinition } from "./dialect.js";
import { mqttchat } from "./mqttchat/dialect.js";
import { openim } from "./openim/dialect.js";
import { rongcloud } from "./rongcloud/dialect.js";
import { standard } from "./standard/dialect.js";
import { tencent } from "./tencent/dialect.js";

/**
 * Every wire dialect Herald speaks, one line each. Everything else (config, the deliverer, the admin
 * API, the panel, the docs' table) reads this list; adding a dialect is its folder and a line here.
 */
export const DIALECT_REGISTRY = [openim, rongcloud, mqttchat, standard, tencent] as const;

type Registered = (typeof DIALECT_REGISTRY)[number];

/** The registry for code that goes through every dialect alike (settings types erased). */
export const DIALECT_DEFINITIONS: readonly DialectDefinition[] =
  DIALECT_REGISTRY as unknown as readonly DialectDefinition[];

/** A dialect's name: "openim", "rongcloud", … */
export type Dialect = Registered["name"];

export const DIALECTS: readonly Dialect[] = Object.freeze(DIALECT_REGISTRY.map((d) => d.name));

const BY_NAME: ReadonlyMap<string, DialectDefinition> = new Map(DIALECT_DEFINITIONS.map((d) => [d.name, d]));

/** The definition of a registered dialect. */
export function dialectOf(name: Dialect): DialectDefinition {
  const found = BY_NAME.get(name);
  if (found === undefined) throw new Error(`no dialect ${JSON.stringify(name)} in DIALECT_REGISTRY`);
  return found;
}

// `{ key?: value }`, or nothing for a dialect without that block.
type OptionalBlock<K extends string, V> = [K] extends [never] ? never : { [P in K]?: V };
type SettingsBlock<D> =
  D extends DialectDefinition<string, infer K, infer S, infer _BK, infer _B> ? OptionalBlock<K, S> : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** The dialects' own blocks of an endpoint (`openim?`, `rongcloud?`, …), each set only for its dialect. */
export type DialectSettingsBlocks = Intersection<SettingsBlock<Registered>>;

/** Every settings key a dialect owns in an endpoint's config. */
export const DIALECT_SETTINGS_KEYS: readonly string[] = Object.freeze(
  DIALECT_DEFINITIONS.flatMap((d) => (d.settings === undefined ? [] : [d.settings.key])),
);

type BeforeBlock<D> =
  D extends DialectDefinition<string, infer _K, infer _S, infer BK, infer B> ? OptionalBlock<BK, B> : never;

/** The apps' blocks for before-hooks (`openim?`, `tencent?`), each read by its dialect's `before`. */
export type DialectAppBlocks = Intersection<BeforeBlock<Registered>>;

/** The dialects that have before-hooks. */
export const BEFORE_DIALECTS: readonly DialectBefore[] = Object.freeze(
  DIALECT_DEFINITIONS.flatMap((d) => (d.before === undefined ? [] : [d.before as DialectBefore])),
);

/** A hook that a Before call's command names, and the dialect that knows it. */
export interface FoundBeforeHook {
  readonly dialect: DialectBefore;
  readonly hook: BeforeHook;
}

/** The hook `command` names in the one dialect whose hook table knows it, or undefined. */
export function findBeforeHook(command: string): FoundBeforeHook | undefined {
  for (const dialect of BEFORE_DIALECTS) {
    const hook = dialect.findHook(command);
    if (hook !== undefined) return { dialect, hook };
  }
  return undefined;
}

/** An app's block for `dialect`'s before-hooks, or undefined when the app has none. */
export function beforeBlockOf(app: object, dialect: DialectBefore): unknown {
  return (app as Record<string, unknown>)[dialect.appKey];
}
