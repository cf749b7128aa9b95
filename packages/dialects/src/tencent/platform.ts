/** Tencent's OptPlatform values. */
export const TENCENT_PLATFORMS = [
  "RESTAPI",
  "Web",
  "Android",
  "iOS",
  "Windows",
  "Mac",
  "iPad",
  "Unknown",
] as const;
export type TencentPlatform = (typeof TENCENT_PLATFORMS)[number];

// OpenIM platform ids (the proto's vocabulary) to Tencent's names: a mini-program runs Tencent's Web SDK,
// an Android pad is Android, Admin is the server side (RESTAPI); Linux has no Tencent name.
const BY_PLATFORM_ID: ReadonlyMap<number, TencentPlatform> = new Map([
  [1, "iOS"],
  [2, "Android"],
  [3, "Windows"],
  [4, "Mac"],
  [5, "Web"],
  [6, "Web"],
  [7, "Unknown"],
  [8, "Android"],
  [9, "iPad"],
  [10, "RESTAPI"],
]);

const BY_NAME: ReadonlyMap<string, TencentPlatform> = new Map(
  TENCENT_PLATFORMS.map((p) => [p.toLowerCase(), p]),
);

/** Tencent's OptPlatform for an OpenIM platform id; an unknown id is read by its name, else "Unknown". */
export function tencentOptPlatform(platformId: number, platform: string): TencentPlatform {
  return BY_PLATFORM_ID.get(platformId) ?? BY_NAME.get(platform.toLowerCase()) ?? "Unknown";
}
