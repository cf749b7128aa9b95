// Local ports for `npm start`: which to listen on, and whether something listens there yet.
import net from "node:net";
import { say } from "./supervisor.mjs";

/** The preferred port when it is free, otherwise any free one. */
export async function pickPort(preferred) {
  const tryListen = (port) =>
    new Promise((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(undefined));
      srv.listen(port, "127.0.0.1", () => {
        const { port: bound } = srv.address();
        srv.close(() => resolve(bound));
      });
    });
  const port = (await tryListen(preferred)) ?? (await tryListen(0));
  if (preferred !== 0 && port !== preferred) say(`port ${preferred} is taken; using ${port}`);
  return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
