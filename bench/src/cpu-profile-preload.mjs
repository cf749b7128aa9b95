// Preloaded into a service (NODE_OPTIONS=--import) when BENCH_PROFILE_DIR is set: SIGUSR2 starts
// the V8 CPU profiler and the sampling heap profiler, the next SIGUSR2 stops them and writes
// <dir>/<service>-<pid>-<n>.cpuprofile, .heapprofile (where bytes were allocated) and .gc.json
// (collections by kind), so that they cover exactly a benchmark's timed run (--cpu-prof is
// refused in NODE_OPTIONS). <service> is the directory of the entry point (services/<service>/src/main.ts).
import { Session } from "node:inspector";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { PerformanceObserver } from "node:perf_hooks";

const dir = process.env.BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  const service = path.basename(path.dirname(path.dirname(process.argv[1] ?? "node")));
  let running = false;
  let n = 0;
  let gc = {};
  const observer = new PerformanceObserver((list) => {
    if (!running) return;
    for (const e of list.getEntries()) {
      const kind = String(e.detail?.kind ?? "unknown");
      const k = (gc[kind] ??= { count: 0, ms: 0 });
      k.count += 1;
      k.ms += e.duration;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true;
      gc = {};
      void (async () => {
        await post("Profiler.enable");
        await post("Profiler.setSamplingInterval", { interval: 500 });
        await post("HeapProfiler.enable");
        await post("HeapProfiler.startSampling", {
          samplingInterval: 16384,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        await post("Profiler.start");
      })();
      return;
    }
    running = false;
    void (async () => {
      const { profile } = await post("Profiler.stop");
      const heap = await post("HeapProfiler.stopSampling");
      n += 1;
      const base = path.join(dir, `${service}-${process.pid}-${n}`);
      writeFileSync(`${base}.cpuprofile`, JSON.stringify(profile));
      writeFileSync(`${base}.heapprofile`, JSON.stringify(heap.profile));
      writeFileSync(`${base}.gc.json`, JSON.stringify({ gc, memory: process.memoryUsage() }, null, 1));
    })();
  });
}
