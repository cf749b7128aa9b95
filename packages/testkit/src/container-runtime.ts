import { existsSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import path from "node:path";

const PROBE_TIMEOUT_MS = 5_000;
let runtimeAnswer: Promise<boolean> | undefined;

/**
 * Whether Testcontainers can start containers here. Cached per process. Without any of the
 * sockets or settings Testcontainers looks for, it answers "no" without loading Testcontainers.
 */
export function containerRuntimeAvailable(): Promise<boolean> {
  runtimeAnswer ??= probeContainerRuntime();
  return runtimeAnswer;
}

async function probeContainerRuntime(): Promise<boolean> {
  if (!hasRuntimeHint()) return false;
  const { getContainerRuntimeClient } = await import("testcontainers");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
  });
  try {
    return await Promise.race([getContainerRuntimeClient().then(() => true), timedOut]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

// The places Testcontainers' own strategies look: DOCKER_HOST, its properties file, and the
// rootful and rootless Docker sockets. Windows named pipes cannot be checked cheaply, so ask.
function hasRuntimeHint(): boolean {
  if (process.platform === "win32") return true;
  if (process.env["DOCKER_HOST"]) return true;
  const home = homedir();
  const runtimeDir = process.env["XDG_RUNTIME_DIR"];
  const candidates = [
    path.join(home, ".testcontainers.properties"),
    "/var/run/docker.sock",
    path.join(home, ".docker", "run", "docker.sock"),
    path.join(home, ".docker", "desktop", "docker.sock"),
    path.join("/run", "user", String(userInfo().uid), "docker.sock"),
    ...(runtimeDir ? [path.join(runtimeDir, "docker.sock")] : []),
  ];
  return candidates.some((candidate) => existsSync(candidate));
}
