// Keeps `npm start`'s processes running: a child that dies is restarted, within one restart
// budget per time window for every child, whether or not it was ever ready; when one spends its
// budget, on Ctrl-C, SIGTERM or SIGHUP, or when the npm that started this one dies,
// everything stops in order (services drain first, into a NATS and a Postgres that are still
// there). No child outlives this process (scripts/lib/lifetime.mjs).
import readline from "node:readline";
import { spawnTied, watchPackageManager } from "./lifetime.mjs";

/** Restarts any one child may have within the window; one more death stops Herald. */
const BUDGET_DEFAULTS = { HERALD_RESTART_MAX: 5, HERALD_RESTART_WINDOW_MS: 60_000 };
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 10_000;
/**
 * How long a restarted child may take to serve; a first start gets longer (six services loading
 * at once on a busy machine, streams and tables created); then how long each tier may take to stop.
 */
const READY_TIMEOUT_MS = 60_000;
const FIRST_READY_TIMEOUT_MS = 300_000;
const STOP_GRACE_MS = { service: 20_000, infra: 10_000 };
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

export function say(msg) {
  console.log(`herald: ${msg}`);
}

/** The restart budget from HERALD_RESTART_MAX and HERALD_RESTART_WINDOW_MS (defaults: 5 in 60 s). */
export function restartBudget(env = process.env) {
  const read = (name, min) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return BUDGET_DEFAULTS[name];
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) {
      throw new Error(`${name} must be a whole number of at least ${min} (got "${raw}")`);
    }
    return value;
  };
  return { max: read("HERALD_RESTART_MAX", 0), windowMs: read("HERALD_RESTART_WINDOW_MS", 1) };
}

/** "60 s", "1.5 s" */
function seconds(ms) {
  return `${Math.round(ms / 100) / 10} s`;
}

function describeExit({ code, signal, error }) {
  if (error) return `could not start: ${error.message}`;
  return code !== null ? `exit code ${code}` : `signal ${signal}`;
}

/** Polls `probe` until it answers true; throws after `timeoutMs` or once `signal` aborts. */
export async function waitUntil(probe, { what, timeoutMs = READY_TIMEOUT_MS, signal }) {
  const deadline = Date.now() + timeoutMs;
  while (!signal?.aborted) {
    if (await probe().catch(() => false)) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`gave up waiting for ${what}: the process is gone`);
}

/** Copies a child's output to the terminal, each line tagged with its name. */
export function prefix(name, stream, keep = () => true) {
  const tag = name.padEnd(9);
  readline.createInterface({ input: stream }).on("line", (line) => {
    if (keep(line)) console.log(`${tag} | ${line}`);
  });
}

export function createSupervisor(budget = restartBudget()) {
  /** The children alive now: { label, tier, stopSignal, child, gone } */
  const running = new Set();
  const pendingRestarts = new Set();
  let stopping = false;

  /**
   * Starts a child and keeps it running. `spec`: label (used in sentences), tier ("service" stops
   * before "infra"), stopSignal, spawn(spawnChild) returning the ChildProcess that
   * spawnChild(command, args, options) started, probe() answering true once it serves, and
   * `waitingFor` (what probe() waits for, in a sentence). Resolves when the child is first ready;
   * rejects if it stays unready for FIRST_READY_TIMEOUT_MS. A death before that is restarted
   * like any other, within the restart budget: a port another process held for a moment, or a
   * server that was not up yet, is no reason to give up on everything.
   */
  function keep(spec) {
    const deaths = [];
    let everReady = false;
    let first;
    const firstReady = new Promise((resolve, reject) => (first = { resolve, reject }));

    const launch = async (isRestart) => {
      if (stopping) return;
      const stopSignal = spec.stopSignal ?? "SIGTERM";
      // Its own process group (Ctrl-C reaches only this supervisor, which stops it in order), and
      // the same stop signal if this process dies without stopping it.
      const child = spec.spawn((command, args, options) =>
        spawnTied(command, args, { ...options, detached: true }, stopSignal),
      );
      const died = new AbortController();
      const gone = new Promise((resolve) => {
        child.once("exit", (code, signal) => resolve({ code, signal }));
        // Only a failed spawn ends a child through "error"; a failed kill() leaves it running.
        child.once(
          "error",
          (error) => child.pid === undefined && resolve({ code: null, signal: null, error }),
        );
      });
      const entry = { ...spec, child, gone };
      running.add(entry);
      void gone.then((exit) => {
        running.delete(entry);
        died.abort();
        onExit(exit);
      });
      try {
        await waitUntil(spec.probe, {
          what: spec.waitingFor,
          timeoutMs: everReady ? READY_TIMEOUT_MS : FIRST_READY_TIMEOUT_MS,
          signal: died.signal,
        });
        if (isRestart) say(`${spec.label} is ${everReady ? "back" : "up"} (pid ${child.pid})`);
        everReady = true;
        first.resolve();
      } catch (err) {
        if (died.signal.aborted || stopping) return;
        if (!everReady) return first.reject(err);
        // Killed, it counts as one more death against its budget and is started again.
        say(`${spec.label}: ${err.message}; killing it`);
        child.kill("SIGKILL");
      }
    };

    const onExit = (exit) => {
      const how = describeExit(exit);
      if (stopping) return say(`${spec.label} stopped (${how})`);
      const now = Date.now();
      while (deaths.length > 0 && deaths[0] <= now - budget.windowMs) deaths.shift();
      const window = `in the last ${seconds(budget.windowMs)}`;
      if (deaths.length >= budget.max) {
        const times = deaths.length + 1;
        return stopAll(
          1,
          `${spec.label} exited (${how}) ${times} ${times === 1 ? "time" : "times"} ${window}, more than its ` +
            `restart budget allows (HERALD_RESTART_MAX=${budget.max}, ` +
            `HERALD_RESTART_WINDOW_MS=${budget.windowMs}); stopping Herald`,
        );
      }
      deaths.push(now);
      say(
        `${spec.label} exited (${how}); restarting it (attempt ${deaths.length} of ${budget.max} ${window})`,
      );
      // Backoff: each restart within the window waits twice as long as the one before.
      const delay = Math.min(FIRST_RESTART_DELAY_MS * 2 ** (deaths.length - 1), MAX_RESTART_DELAY_MS);
      const timer = setTimeout(() => {
        pendingRestarts.delete(timer);
        launch(true).catch((err) => stopAll(1, `${spec.label} could not be restarted: ${err.message}`));
      }, delay);
      pendingRestarts.add(timer);
    };

    launch(false).catch(first.reject);
    return firstReady;
  }

  /** Stops every child in order, services first, then exits with `code`. */
  async function stopAll(code, reason) {
    if (stopping) return;
    stopping = true;
    if (reason) console.error(`herald: ${reason}`);
    pendingRestarts.forEach(clearTimeout);
    say("stopping: the services drain first");
    await terminate(
      [...running].filter((e) => e.tier === "service"),
      STOP_GRACE_MS.service,
    );
    await terminate([...running], STOP_GRACE_MS.infra);
    say("stopped");
    process.exit(code);
  }

  async function terminate(entries, graceMs) {
    for (const e of entries) e.child.kill(e.stopSignal ?? "SIGTERM");
    const timer = setTimeout(() => {
      for (const e of entries) {
        if (!running.has(e)) continue;
        say(`${e.label} did not stop within ${seconds(graceMs)}; killing it`);
        e.child.kill("SIGKILL");
      }
    }, graceMs);
    await Promise.all(entries.map((e) => e.gone));
    clearTimeout(timer);
  }

  /** Ctrl-C, SIGTERM and a closed terminal stop everything in order; so does an internal error. */
  function handleSignals() {
    for (const signal of STOP_SIGNALS) {
      process.removeAllListeners(signal);
      process.on(signal, () => void stopAll(0));
    }
  }

  handleSignals();
  watchPackageManager(
    (pid) => void stopAll(0, `the package manager that started Herald (pid ${pid}) is gone`),
  );
  process.on("uncaughtException", (err) => void stopAll(1, `internal error: ${err.stack ?? err}`));
  // Children run in their own process groups (so Ctrl-C reaches only this supervisor, which
  // stops them in order); make sure none outlives it.
  process.on("exit", () => running.forEach((e) => e.child.kill("SIGKILL")));

  return { keep, stopAll, handleSignals };
}
