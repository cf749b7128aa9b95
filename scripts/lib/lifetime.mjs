// How long `npm start`'s processes live: none outlives the starter, and the starter does not
// outlive the package manager that started it. Node's own modules only.
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const PARENT_POLL_MS = 500;

// setpriv (util-linux, Linux only) asks the kernel to signal a child when its parent dies, even
// of SIGKILL; it then execs the command, so the child keeps its pid and its command line.
const setpriv =
  process.platform === "linux" && spawnSync("setpriv", ["--version"], { stdio: "ignore" }).status === 0;
let watchdog;

/**
 * spawn(), with `deathSignal` sent to the child when this process dies, however it dies: by the
 * kernel where setpriv exists, else by a watchdog process (watchdog.mjs).
 */
export function spawnTied(command, args, options, deathSignal = "SIGTERM") {
  if (setpriv) return spawn("setpriv", ["--pdeathsig", deathSignal, "--", command, ...args], options);
  const child = spawn(command, args, options);
  if (child.pid === undefined) return child;
  watchdog ??= startWatchdog();
  watchdog.stdin.write(`${child.pid} ${deathSignal}\n`);
  child.once("exit", () => watchdog.stdin.write(`${child.pid} gone\n`));
  return child;
}

function startWatchdog() {
  const script = fileURLToPath(new URL("./watchdog.mjs", import.meta.url));
  // A session of its own: neither Ctrl-C nor a closed terminal reaches it, only the end of its pipe.
  const child = spawn(process.execPath, [script], { detached: true, stdio: ["pipe", "ignore", "ignore"] });
  // It must not keep this process alive, and one that died (EPIPE) only stops standing in.
  child.unref();
  child.stdin.unref();
  child.stdin.on("error", () => {});
  return child;
}

/**
 * Calls `onGone` once the package manager that runs this script (`npm start`, `pnpm start`) has
 * died: npm forwards only SIGINT and SIGTERM, and dies of SIGHUP or SIGKILL without passing
 * anything on; this process is then handed to init (or a subreaper), a new parent pid. Started
 * any other way (node in a shell, nohup, a process manager), the parent may go while this process
 * is meant to stay.
 */
export function watchPackageManager(onGone) {
  if (!process.env.npm_lifecycle_script?.includes("scripts/start.mjs")) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, PARENT_POLL_MS);
  timer.unref();
}
