export type HookKind = "before" | "after";

export interface OpenImHook {
  /** The webhooks.yml key, e.g. "beforeSendSingleMsg". */
  readonly key: string;
  readonly kind: HookKind;
  /** The command as OpenIM main / v3.7+ spells it. */
  readonly command: string;
  /** The command as the seeds and v3.5/v3.6 servers spell it; equals `command` where nothing was renamed. */
  readonly seedCommand: string;
  /** True where contentType filters (deniedTypes / allowedTypes) apply. */
  readonly messageHook: boolean;
  /** The failedContinue that OpenIM's shipped webhooks.yml gives this key. */
  readonly failedContinue: boolean;
  /** The NATS subject token a Before call for it travels on: its current command. */
  readonly subjectToken: string;
}

export type CommandNaming = "seed" | "current";

const MESSAGE_HOOKS = new Set([
  "beforeSendSingleMsg",
  "beforeSendGroupMsg",
  "beforeMsgModify",
  "afterSendSingleMsg",
  "afterSendGroupMsg",
  "afterMsgSaveDB",
]);

// Shipped with failedContinue false: beforeAddBlack (an empty value, which Go decodes as false) and
// the conversation hooks.
const FAIL_CLOSED = new Set([
  "beforeAddBlack",
  "beforeCreateSingleChatConversations",
  "afterCreateSingleChatConversations",
  "beforeCreateGroupChatConversations",
  "afterCreateGroupChatConversations",
]);

// Seed 003 names the offline-push command callbackBeforePushCommand and seed 002 uses the v3.6 presence
// names; the rest come from the v3.6 -> v3.7 rename table (reference §8.2).
const SEED_COMMANDS: Readonly<Record<string, string>> = {
  afterUserOnline: "callbackUserOnlineCommand",
  afterUserOffline: "callbackUserOfflineCommand",
  afterUserKickOff: "callbackUserKickOffCommand",
  beforeOfflinePush: "callbackBeforePushCommand",
  beforeOnlinePush: "callbackOnlinePushCommand",
  beforeGroupOnlinePush: "callbackSuperGroupOnlinePushCommand",
  beforeMsgModify: "callbackMsgModifyCommand",
  afterQuitGroup: "callbackQuitGroupCommand",
  afterKickGroupMember: "callbackKillGroupCommand",
  afterDismissGroup: "callbackDisMissGroupCommand",
  afterGroupMsgRead: "callbackGroupMsgReadCommand",
  afterSingleMsgRead: "callbackSingleMsgRead",
  afterTransferGroupOwner: "callbackAfterTransferGroupOwner",
  beforeSetFriendRemark: "callbackBeforeSetFriendRemark",
  afterSetFriendRemark: "callbackAfterSetFriendRemark",
  beforeMemberJoinGroup: "callbackBeforeMemberJoinGroupCommand",
};

// [webhooks.yml key, current command], in the order of reference §1.2, which is webhooks.yml's (main).
const HOOK_ROWS: ReadonlyArray<readonly [string, string]> = [
  ["beforeSendSingleMsg", "callbackBeforeSendSingleMsgCommand"],
  ["beforeUpdateUserInfoEx", "callbackBeforeUpdateUserInfoExCommand"],
  ["afterUpdateUserInfoEx", "callbackAfterUpdateUserInfoExCommand"],
  ["afterSendSingleMsg", "callbackAfterSendSingleMsgCommand"],
  ["beforeSendGroupMsg", "callbackBeforeSendGroupMsgCommand"],
  ["beforeMsgModify", "callbackBeforeMsgModifyCommand"],
  ["afterSendGroupMsg", "callbackAfterSendGroupMsgCommand"],
  ["afterMsgSaveDB", "callbackAfterMsgSaveDBCommand"],
  ["afterUserOnline", "callbackAfterUserOnlineCommand"],
  ["afterUserOffline", "callbackAfterUserOfflineCommand"],
  ["afterUserKickOff", "callbackAfterUserKickOffCommand"],
  ["beforeOfflinePush", "callbackBeforeOfflinePushCommand"],
  ["beforeOnlinePush", "callbackBeforeOnlinePushCommand"],
  ["beforeGroupOnlinePush", "callbackBeforeGroupOnlinePushCommand"],
  ["beforeAddFriend", "callbackBeforeAddFriendCommand"],
  ["beforeUpdateUserInfo", "callbackBeforeUpdateUserInfoCommand"],
  ["afterUpdateUserInfo", "callbackAfterUpdateUserInfoCommand"],
  ["beforeCreateGroup", "callbackBeforeCreateGroupCommand"],
  ["afterCreateGroup", "callbackAfterCreateGroupCommand"],
  ["beforeMemberJoinGroup", "callbackBeforeMembersJoinGroupCommand"],
  ["beforeSetGroupMemberInfo", "callbackBeforeSetGroupMemberInfoCommand"],
  ["afterSetGroupMemberInfo", "callbackAfterSetGroupMemberInfoCommand"],
  ["afterQuitGroup", "callbackAfterQuitGroupCommand"],
  ["afterKickGroupMember", "callbackAfterKickGroupCommand"],
  ["afterDismissGroup", "callbackAfterDisMissGroupCommand"],
  ["beforeApplyJoinGroup", "callbackBeforeJoinGroupCommand"],
  ["afterGroupMsgRead", "callbackAfterGroupMsgReadCommand"],
  ["afterSingleMsgRead", "callbackAfterSingleMsgReadCommand"],
  ["beforeUserRegister", "callbackBeforeUserRegisterCommand"],
  ["afterUserRegister", "callbackAfterUserRegisterCommand"],
  ["afterTransferGroupOwner", "callbackAfterTransferGroupOwnerCommand"],
  ["beforeSetFriendRemark", "callbackBeforeSetFriendRemarkCommand"],
  ["afterSetFriendRemark", "callbackAfterSetFriendRemarkCommand"],
  // OpenIM defines no command for this key (it is never fired); Herald names it by the house pattern.
  ["afterGroupMsgRevoke", "callbackAfterGroupMsgRevokeCommand"],
  ["afterJoinGroup", "callbackAfterJoinGroupCommand"],
  ["beforeInviteUserToGroup", "callbackBeforeInviteJoinGroupCommand"],
  ["afterSetGroupInfo", "callbackAfterSetGroupInfoCommand"],
  ["beforeSetGroupInfo", "callbackBeforeSetGroupInfoCommand"],
  ["afterSetGroupInfoEx", "callbackAfterSetGroupInfoExCommand"],
  ["beforeSetGroupInfoEx", "callbackBeforeSetGroupInfoExCommand"],
  // The typo is OpenIM's own constant, and it is what receivers route on.
  ["afterRevokeMsg", "callbackBeforeAfterMsgCommand"],
  ["beforeAddBlack", "callbackBeforeAddBlackCommand"],
  ["afterAddFriend", "callbackAfterAddFriendCommand"],
  ["beforeAddFriendAgree", "callbackBeforeAddFriendAgreeCommand"],
  ["afterAddFriendAgree", "callbackAfterAddFriendAgreeCommand"],
  ["afterDeleteFriend", "callbackAfterDeleteFriendCommand"],
  ["beforeImportFriends", "callbackBeforeImportFriendsCommand"],
  ["afterImportFriends", "callbackAfterImportFriendsCommand"],
  ["afterRemoveBlack", "callbackAfterRemoveBlackCommand"],
  ["beforeCreateSingleChatConversations", "callbackBeforeCreateSingleChatConversationsCommand"],
  ["afterCreateSingleChatConversations", "callbackAfterCreateSingleChatConversationsCommand"],
  ["beforeCreateGroupChatConversations", "callbackBeforeCreateGroupChatConversationsCommand"],
  ["afterCreateGroupChatConversations", "callbackAfterCreateGroupChatConversationsCommand"],
];

/** Every OpenIM hook of webhooks.yml (main): 53 rows. */
export const OPENIM_HOOKS: readonly OpenImHook[] = Object.freeze(
  HOOK_ROWS.map(([key, command]) =>
    Object.freeze({
      key,
      kind: key.startsWith("before") ? ("before" as const) : ("after" as const),
      command,
      seedCommand: SEED_COMMANDS[key] ?? command,
      messageHook: MESSAGE_HOOKS.has(key),
      failedContinue: !FAIL_CLOSED.has(key),
      subjectToken: command,
    }),
  ),
);

const HOOKS_BY_NAME: ReadonlyMap<string, OpenImHook> = new Map(
  OPENIM_HOOKS.flatMap((hook) => [
    [hook.key, hook] as const,
    [hook.command, hook] as const,
    [hook.seedCommand, hook] as const,
  ]),
);

const HOOKS_BY_KEY: ReadonlyMap<string, OpenImHook> = new Map(OPENIM_HOOKS.map((hook) => [hook.key, hook]));

/** The hook of a webhooks.yml key (not a command), or undefined for a key OpenIM's webhooks.yml does not have. */
export function openImHookByKey(key: string): OpenImHook | undefined {
  return HOOKS_BY_KEY.get(key);
}

/** Finds a hook by its webhooks.yml key, its current command or its seed command (exact match). */
export function findOpenImHook(name: string): OpenImHook | undefined {
  return HOOKS_BY_NAME.get(name);
}

export function openImCommand(hook: OpenImHook, naming: CommandNaming): string {
  return naming === "seed" ? hook.seedCommand : hook.command;
}
