/** Before-hooks are synchronous and may veto; after-hooks are notifications. */
export type HookKind = "before" | "after";

export interface OpenImHookKey {
  readonly key: string;
  readonly kind: HookKind;
  /** The failedContinue that OpenIM's shipped webhooks.yml gives this key. */
  readonly failedContinue: boolean;
}

const before = (key: string, failedContinue = true): OpenImHookKey => ({
  key,
  kind: "before",
  failedContinue,
});
const after = (key: string, failedContinue = true): OpenImHookKey => ({ key, kind: "after", failedContinue });

/** The 53 hook keys of OpenIM's webhooks.yml (main), in the file's order. */
export const OPENIM_HOOK_KEYS: readonly OpenImHookKey[] = [
  before("beforeSendSingleMsg"),
  before("beforeUpdateUserInfoEx"),
  after("afterUpdateUserInfoEx"),
  after("afterSendSingleMsg"),
  before("beforeSendGroupMsg"),
  before("beforeMsgModify"),
  after("afterSendGroupMsg"),
  after("afterMsgSaveDB"),
  after("afterUserOnline"),
  after("afterUserOffline"),
  after("afterUserKickOff"),
  before("beforeOfflinePush"),
  before("beforeOnlinePush"),
  before("beforeGroupOnlinePush"),
  before("beforeAddFriend"),
  before("beforeUpdateUserInfo"),
  after("afterUpdateUserInfo"),
  before("beforeCreateGroup"),
  after("afterCreateGroup"),
  before("beforeMemberJoinGroup"),
  before("beforeSetGroupMemberInfo"),
  after("afterSetGroupMemberInfo"),
  after("afterQuitGroup"),
  after("afterKickGroupMember"),
  after("afterDismissGroup"),
  before("beforeApplyJoinGroup"),
  after("afterGroupMsgRead"),
  after("afterSingleMsgRead"),
  before("beforeUserRegister"),
  after("afterUserRegister"),
  after("afterTransferGroupOwner"),
  before("beforeSetFriendRemark"),
  after("afterSetFriendRemark"),
  after("afterGroupMsgRevoke"),
  after("afterJoinGroup"),
  before("beforeInviteUserToGroup"),
  after("afterSetGroupInfo"),
  before("beforeSetGroupInfo"),
  after("afterSetGroupInfoEx"),
  before("beforeSetGroupInfoEx"),
  after("afterRevokeMsg"),
  // Shipped with an empty failedContinue, which Go decodes as false.
  before("beforeAddBlack", false),
  after("afterAddFriend"),
  before("beforeAddFriendAgree"),
  after("afterAddFriendAgree"),
  after("afterDeleteFriend"),
  before("beforeImportFriends"),
  after("afterImportFriends"),
  after("afterRemoveBlack"),
  // The conversation hooks ship with failedContinue: false.
  before("beforeCreateSingleChatConversations", false),
  after("afterCreateSingleChatConversations", false),
  before("beforeCreateGroupChatConversations", false),
  after("afterCreateGroupChatConversations", false),
];

const byKey = new Map(OPENIM_HOOK_KEYS.map((hook) => [hook.key, hook]));

/** The hook key's entry, or undefined for a key OpenIM's webhooks.yml does not have. */
export function openImHookKey(key: string): OpenImHookKey | undefined {
  return byKey.get(key);
}
