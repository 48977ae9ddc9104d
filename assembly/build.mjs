// Builds the WebAssembly kernel module (assembly/index.ts) in its four variants:
//   kernels-mt[-fma].wasm  shared memory, for the thread pool (needs SharedArrayBuffer)
//   kernels-st[-fma].wasm  unshared memory, one thread (no cross-origin isolation)
//   -fma                   relaxed SIMD: f32x4.relaxed_madd (x86 FMA) in the matmul loop
// Usage: node assembly/build.mjs [outDir]   (default src/wasm). The build is
// deterministic: test/wasm.test.ts rebuilds into a temporary directory and
// compares the bytes with the committed files.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(process.argv[2] ?? join(root, 'src/wasm'));
const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');

const common = [
  'assembly/index.ts',
  '--runtime', 'stub', // the module allocates nothing; the host owns the memory
  '--importMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--use', 'abort=', '--noAssert',
  '--optimizeLevel', '3', '--shrinkLevel', '0',
  '--enable', 'simd',
  // v128 helpers exported between assembly/ files (not from the module) warn needlessly
  '--disableWarning', '112',
];

const variants = [
  { file: 'kernels-mt.wasm', flags: ['--sharedMemory', '--enable', 'threads'] },
  { file: 'kernels-mt-fma.wasm', flags: ['--sharedMemory', '--enable', 'threads', '--enable', 'relaxed-simd'] },
  { file: 'kernels-st.wasm', flags: [] },
  { file: 'kernels-st-fma.wasm', flags: ['--enable', 'relaxed-simd'] },
];

// independent compiles: run them side by side
const run = promisify(execFile);
await Promise.all(variants.map(async (v) => {
  const { stderr } = await run(process.execPath, [asc, ...common, ...v.flags, '-o', join(outDir, v.file)], { cwd: root });
  if (stderr.trim()) process.stderr.write(`${v.file}: ${stderr}`);
}));
console.log(`built ${variants.map((v) => v.file).join(', ')} into ${outDir}`);
