// The browser build bundles every shaders/*.wgsl file as a string and registers
// it under its family name (the Node side reads the same files from disk).
import { registerShaderSources } from '../src/gpu/shaders.ts';

const modules = import.meta.glob('../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

const files: Record<string, string> = {};
for (const [path, code] of Object.entries(modules)) {
  const family = path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length);
  files[family] = code;
}
registerShaderSources(files);

export const shaderFamilies: readonly string[] = Object.keys(files).sort();
