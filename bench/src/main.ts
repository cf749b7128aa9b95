// pnpm bench: every figure beside the floor it cannot beat, measured in the same run.
import { benchPublish, printPublish } from "./publish.bench.js";

const started = Date.now();
printPublish(await benchPublish());
console.log(
  `\nbench finished in ${((Date.now() - started) / 1000).toFixed(1)} s on ${process.platform}/${process.arch}, node ${process.version}`,
);
