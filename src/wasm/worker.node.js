// Node entry of a WebAssembly-backend thread (see worker-core.js).
import { parentPort, workerData } from 'node:worker_threads';
import { serveKernelThread } from './worker-core.js';

serveKernelThread(workerData, (m) => parentPort.postMessage(m)).catch((e) => parentPort.postMessage({ error: String(e) }));
