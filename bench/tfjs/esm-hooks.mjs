// Node module hooks that load TensorFlow.js from its ES-module builds (the
// packages' "module" entries) instead of the CommonJS bundles in "main". The
// CommonJS tfjs-core bundle registers no gradients, and the one module that does
// (dist/register_all_gradients) exists only in the ES build, whose imports omit
// file extensions (written for bundlers): mixing the two would create two TF.js
// engines. Here every @tensorflow import resolves into the ES build, with the
// bundler-style specifiers completed, so there is one engine with gradients.
// CommonJS dependencies imported from the ES build (seedrandom: `import * as
// seedrandom` then seedrandom.alea) get a shim that re-exports their properties.
// Registered by bench/tfjs/register.mjs (node --import).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TF = /^@tensorflow\/(tfjs-[a-z-]+)(\/.*)?$/;
const root = fileURLToPath(new URL('../../node_modules/@tensorflow/', import.meta.url));

function complete(path) {
  if (existsSync(path) && statSync(path).isFile()) return path;
  if (existsSync(`${path}.js`)) return `${path}.js`;
  if (existsSync(join(path, 'index.js'))) return join(path, 'index.js');
  return null;
}

export async function resolve(specifier, context, next) {
  const m = TF.exec(specifier);
  if (m && existsSync(join(root, m[1]))) {
    const dir = join(root, m[1]);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const target = m[2] ? complete(join(dir, m[2])) : complete(join(dir, pkg.module ?? pkg.main));
    if (target) return { url: pathToFileURL(target).href, format: 'module', shortCircuit: true };
  }
  const parent = context.parentURL?.startsWith('file:') ? fileURLToPath(context.parentURL) : '';
  if (parent.startsWith(root) && (specifier.startsWith('./') || specifier.startsWith('../'))) {
    const target = complete(join(dirname(parent), specifier));
    if (target) return { url: pathToFileURL(target).href, format: target.endsWith('.js') ? 'module' : undefined, shortCircuit: true };
  }
  if (parent.startsWith(root) && /^[a-z]/.test(specifier) && !specifier.startsWith('node:')) {
    const r = await next(specifier, context);
    if (r.format === 'commonjs' || r.url.endsWith('.js')) {
      return { url: `${SHIM}${encodeURIComponent(r.url)}`, format: 'module', shortCircuit: true };
    }
    return r;
  }
  return next(specifier, context);
}

const SHIM = 'latentgpu-cjs-shim:';

export async function load(url, context, next) {
  if (!url.startsWith(SHIM)) return next(url, context);
  const target = fileURLToPath(decodeURIComponent(url.slice(SHIM.length)));
  const names = Object.keys(createRequire(target)(target)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== 'default');
  const source = [
    `import { createRequire } from 'node:module';`,
    `const m = createRequire(${JSON.stringify(target)})(${JSON.stringify(target)});`,
    'export default m;',
    ...names.map((k) => `export const ${k} = m[${JSON.stringify(k)}];`),
  ].join('\n');
  return { format: 'module', source, shortCircuit: true };
}
