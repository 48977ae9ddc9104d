// The browser app: app/ is the Vite root; `npm run build` writes static files to
// dist/app that work from any static server (relative asset paths).
import { defineConfig } from 'vite';

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
  server: { host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
});
