// Registers every shaders/*.wgsl family and shaders/include/*.wgsl snippet, read
// from disk next to the sources, by file name (as the browser loader does).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerShaderSources } from './shaders.ts';

const files: Record<string, string> = {};
for (const sub of ['', 'include/']) {
  const dir = fileURLToPath(new URL(`../../shaders/${sub}`, import.meta.url));
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.wgsl')) files[f.slice(0, -5)] = readFileSync(dir + f, 'utf8');
  }
}
registerShaderSources(files);
