// WGSL sources by family name (shaders/<family>.wgsl). Node reads them from disk
// (shaders.node.ts); the browser build bundles them (app/shaders.browser.ts).
const sources = new Map<string, string>();

export function registerShaderSources(files: Record<string, string>): void {
  for (const [family, code] of Object.entries(files)) sources.set(family, code);
}

export function shaderSource(family: string): string {
  const s = sources.get(family);
  if (s === undefined) {
    const known = [...sources.keys()].join(', ') || 'none (import src/gpu/shaders.node.ts or the browser loader first)';
    throw new Error(`no WGSL source for kernel family '${family}'; registered: ${known}`);
  }
  return s;
}
