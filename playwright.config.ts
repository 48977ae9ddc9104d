// End-to-end tests of the browser app in Debian's Chromium (never a downloaded
// browser): the built app is served by `vite preview` on 127.0.0.1 (a secure
// context, so navigator.gpu exists), WebGPU runs on SwiftShader. The
// `no-webgpu` project launches without --enable-unsafe-webgpu to check the CPU
// fallback. One worker: the software adapter already uses both cores.
import { defineConfig } from '@playwright/test';

// overridable so two checkouts on one machine can run the suite at once
const PORT = Number(process.env.LATENTGPU_E2E_PORT ?? 4319);
export const CHROMIUM = process.env.LATENTGPU_CHROMIUM ?? '/usr/bin/chromium';
export const QUIET = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 60_000 },
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
    trace: 'off',
  },
  projects: [
    {
      name: 'webgpu',
      testIgnore: /no-webgpu\.spec\.ts/,
      use: { launchOptions: { executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', ...QUIET] } },
    },
    {
      name: 'no-webgpu',
      testMatch: /no-webgpu\.spec\.ts/,
      use: { launchOptions: { executablePath: CHROMIUM, args: QUIET } },
    },
  ],
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
