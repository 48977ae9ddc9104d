// Serves or builds the example page. COOP + COEP make the page cross-origin
// isolated, so the CPU backend runs on Web Worker threads (a static host must
// send the same two headers, or it runs one thread).
import { defineConfig } from 'vite';

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  build: { target: 'es2022' },
  worker: { format: 'es' },
  // the dev server's dependency pre-bundling would move the package's .wasm and worker URLs
  optimizeDeps: { exclude: ['latentgpu'] },
  server: { headers: ISOLATION },
  preview: { headers: ISOLATION },
});
