// The browser app: app/ is the Vite root; `npm run build` writes static files to
// dist/app that work from any static server (relative asset paths).
//
// Cross-origin isolation (COOP + COEP) gives the page SharedArrayBuffer, which the
// WebAssembly CPU backend needs for its Web Worker threads (src/wasm/browser.ts);
// a static host must send the same two headers, or the backend runs one thread.
import { defineConfig } from 'vite';

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root: 'app',
  base: './',
  build: {
    outDir: '../dist/app',
    emptyOutDir: true,
    target: 'es2022',
    // the bundled MNIST binary is a separate asset, never inlined
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
  },
  // the WebAssembly thread workers are ES modules
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, headers: ISOLATION },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true, headers: ISOLATION },
});
