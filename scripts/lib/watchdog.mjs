// Stands in for setpriv's parent-death signal where there is none (not Linux, or no util-linux).
// lifetime.mjs starts it in a session of its own with a pipe from the supervisor on its stdin:
// "<pid> <signal>" when a child starts, "<pid> gone" when it ends. Once the pipe closes (the
// supervisor has exited, however it died), each child still listed gets its signal.
import readline from "node:readline";

const children = new Map();
readline
  .createInterface({ input: process.stdin })
  .on("line", (line) => {
    const [pid, what] = line.split(" ");
    if (what === "gone") children.delete(pid);
    else children.set(pid, what);
  })
  .on("close", () => {
    for (const [pid, signal] of children) {
      try {
        process.kill(Number(pid), signal);
      } catch {
        // it ended meanwhile
      }
    }
  });
