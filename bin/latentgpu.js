#!/usr/bin/env node
// The latentgpu command line. The published package runs the compiled
// JavaScript in dist/ (built by `npm run build:lib`, which `npm pack` runs). A
// repository checkout, where src/ and the development tool tsx are present,
// runs the TypeScript sources instead, so an edit is never hidden behind a
// stale build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/cli/main.js', import.meta.url);

function hasTsx() {
  try {
    createRequire(import.meta.url).resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

if (existsSync(source) && hasTsx()) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write('latentgpu: dist/cli/main.js is missing; build it with `npm run build:lib`\n');
  process.exitCode = 1;
}
