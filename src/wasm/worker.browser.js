// Browser entry of a WebAssembly-backend thread (see worker-core.js): the first
// message carries the module, the shared memory and the control block.
import { serveKernelThread } from './worker-core.js';

self.onmessage = (ev) => {
  self.onmessage = null;
  serveKernelThread(ev.data, (m) => self.postMessage(m)).catch((e) => self.postMessage({ error: String(e) }));
};
