// Registers every shaders/*.wgsl file, read from disk next to the sources.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { registerShaderSources } from './shaders.ts';

const dir = fileURLToPath(new URL('../../shaders/', import.meta.url));
const files: Record<string, string> = {};
for (const f of readdirSync(dir)) {
  if (f.endsWith('.wgsl')) files[f.slice(0, -5)] = readFileSync(dir + f, 'utf8');
}
registerShaderSources(files);
