// Registers every shaders/*.wgsl family and shaders/include/*.wgsl snippet in a
// browser bundle. In the repository Vite inlines them (import.meta.glob); the
// library build (scripts/build-lib.mjs) replaces the compiled file with one that
// holds the sources as strings, so any bundler can take the package.
import { registerShaderSources } from './shaders.ts';

const modules = import.meta.glob('../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

const files: Record<string, string> = {};
for (const [path, code] of Object.entries(modules)) files[path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length)] = code;
registerShaderSources(files);

/** The registered family and snippet names, sorted. */
export const shaderFamilies: readonly string[] = Object.keys(files).sort();
