// Shapes of the admin API's answers that have no zod schema in ../src/answers.ts (the routes build them
// from config and proto types whose declarations bring Node's types along), and the panel's own shapes.
// Each says which route answers with it. Fields are optional where the API leaves them out.

import type { ApiErrorBody } from "../src/answers.js";

/**
 * What the client knows of a refusal: the API's error body, or `code` "network" when no answer came and
 * "" when the body was not the API's.
 */
export interface ApiFailure {
  code?: ApiErrorBody["error"]["code"] | "network" | "";
  message: string;
  field?: string | undefined;
}

/** Query string values; null, undefined and "" are left out. */
export type Query = Record<string, string | number | boolean | null | undefined>;

/** GET /v1/apps: one app. */
export interface AppSummary {
  appId: string;
  source?: string;
  endpointCount?: number;
  hasOpenIm?: boolean;
  file?: { differs: boolean };
}

/** GET /v1/apps/{appId}: the app (only what the panel reads). */
export interface AppView {
  appId: string;
  source?: string;
  file?: { differs: boolean };
  /** The app's presence timings, ms (@herald/config's presenceSettingsSchema); absent: the service's default. */
  presence?: { graceMs?: number; nodeLeaseMarginMs?: number };
  /** The app's chatroom timings, ms (@herald/config's chatroomSettingsSchema); absent: the service's default. */
  chatroom?: { kickAfterMs?: number; abnormalDelayMs?: number; idleDestroyMs?: number };
}

/** An endpoint's state (@herald/config's EndpointState); absent means active. */
export interface EndpointState {
  state: "active" | "paused" | "disabled";
  until?: string;
  reason: string;
  since?: string;
  failingSince?: string;
}

/** GET /v1/apps/{appId}/endpoints: an endpoint as stored (secrets redacted), with its state. */
export interface EndpointView {
  id: string;
  dialect: string;
  url?: string;
  eventTypes?: string[];
  ordering?: string;
  secrets: Array<{ value: string }>;
  implied?: true;
  state?: EndpointState;
  [field: string]: unknown;
}

/** GET /v1/dialects: one dialect as the registry describes it. */
export interface DialectDescription {
  dialect: string;
  title?: string;
  summary?: string;
  signsWithSecrets: boolean;
  defaults?: { ordering?: string; [field: string]: unknown };
  template?: Record<string, unknown>;
}

/** One hook of GET /v1/apps/{appId}/hooks, OpenIM's webhooks.yml spelling. */
export interface HookSetting {
  enable?: boolean;
  timeout?: number;
  failedContinue?: boolean;
  allowedTypes?: Array<[number, number]>;
  deniedTypes?: Array<[number, number]>;
  attentionIds?: string[];
}

/** GET /v1/apps/{appId}/hooks: the app's OpenIM hook settings. */
export interface HookSettings {
  url?: string;
  urlStyle?: string;
  commandNames?: string;
  hooks?: Record<string, HookSetting>;
}

/** A config warning of a webhooks.yml import (@herald/config's ConfigWarning). */
export interface ConfigWarning {
  path?: string;
  message?: string;
}

/** PUT /v1/apps/{appId}/webhooks.yml. */
export interface ImportResult {
  warnings?: Array<ConfigWarning | string>;
}

/** One connection of a user (proto JSON). */
export interface ConnectionJson {
  platform?: string;
  platformId?: number;
  isAppBackground?: boolean;
  nodeId?: string;
}

/** GET /v1/apps/{appId}/presence/users: one user (proto JSON: enums as names or numbers). */
export interface UserPresenceJson {
  userId?: string;
  status?: string | number;
  since?: string;
  connections?: ConnectionJson[];
}

/** GET /v1/apps/{appId}/rooms: one room (proto JSON). */
export interface RoomJson {
  roomId?: string;
  id?: string;
  memberCount?: number;
  createdAt?: string;
}

/** GET /v1/apps/{appId}/rooms/{roomId}/members: one member (proto JSON). */
export interface MemberJson {
  userId?: string;
  joinedAt?: string;
}

/** A paged list: `nextPageToken` is "" (or absent) on the last page. */
export interface Page {
  nextPageToken?: string;
}

/** What the panel shows in a message or an error line. */
export type Content = Node | string | number | null | undefined | false | Content[];

/** What every section of an open app is given. */
export interface SectionContext {
  appId: string;
  notify: (...content: Content[]) => void;
  fail: (err: unknown) => void;
  onEndpoints: (endpoints: EndpointView[]) => void;
  /** Endpoints or hook settings changed. */
  onAppChanged?: () => void;
  /** A replay or test event was sent: look again soon. */
  onActivity: () => void;
}

/** A section of an open app. */
export interface Section {
  root: HTMLElement;
  refresh: () => Promise<void>;
}
