// A graph-cut decode thread (see threads.ts): decodes each request with the same function the
// in-process decoder runs, and answers with the mask's bytes moved, not copied.
import { parentPort } from "node:worker_threads";
import { decodeGraphcut } from "../graphcut.js";
import type { ThreadReply, ThreadRequest } from "./threads.js";

const port = parentPort;
if (!port) throw new Error("graphcut/thread.js runs as a worker thread (see threads.ts), not on its own");
port.on("message", (req: ThreadRequest) => {
  let reply: ThreadReply;
  try {
    const r = decodeGraphcut(req.params, req.image, req.prompt);
    reply = { id: req.id, mask: r.mask, score: r.score };
    port.postMessage(reply, [r.mask.data.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as Error;
    reply = { id: req.id, error: { message: err.message, ...(err.stack ? { stack: err.stack } : {}) } };
    port.postMessage(reply);
  }
});
