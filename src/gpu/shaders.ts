// WGSL sources by name: the kernel families shaders/<family>.wgsl and the snippets
// they share, shaders/include/<name>.wgsl. Node reads them from disk
// (shaders.node.ts); the browser build bundles them (app/shaders.browser.ts).
// A line `// #include <name>` is replaced by the source registered as `name` when a
// family is looked up (each snippet once per module), so the registry, the race
// checker and the tuner's hash all see the expanded WGSL.
const sources = new Map<string, string>();
const expanded = new Map<string, string>();

export function registerShaderSources(files: Record<string, string>): void {
  for (const [name, code] of Object.entries(files)) sources.set(name, code);
  expanded.clear();
}

/** The WGSL of a family with its includes expanded. */
export function shaderSource(family: string): string {
  let code = expanded.get(family);
  if (code === undefined) {
    code = expandIncludes(registered(family), [family], new Set());
    expanded.set(family, code);
  }
  return code;
}

function registered(name: string, includedFrom?: string): string {
  const s = sources.get(name);
  if (s === undefined) {
    const known = [...sources.keys()].join(', ') || 'none (import src/gpu/shaders.node.ts or the browser loader first)';
    const what = includedFrom ? `'${name}' (included from '${includedFrom}')` : `kernel family '${name}'`;
    throw new Error(`no WGSL source for ${what}; registered: ${known}`);
  }
  return s;
}

const INCLUDE = /^[ \t]*\/\/ #include <([\w-]+)>[ \t]*$/gm;

function expandIncludes(code: string, stack: string[], done: Set<string>): string {
  return code.replace(INCLUDE, (_line, name: string) => {
    if (stack.includes(name)) throw new Error(`WGSL include cycle: ${[...stack, name].join(' → ')}`);
    if (done.has(name)) return `// #include <${name}>: included above`;
    done.add(name);
    return expandIncludes(registered(name, stack[stack.length - 1]), [...stack, name], done).trimEnd();
  });
}
