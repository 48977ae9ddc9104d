// The Node command line from the e2e tests: model files written by the app must
// evaluate with `latentgpu eval`, and files from `latentgpu train --out` must
// load in the app. Runs on the CPU backend (the browser holds the software GPU).
import { execFile } from 'node:child_process';
import { encodeSafetensors, type TensorMap } from '../src/io/safetensors.ts';

/** `latentgpu <args> --backend cpu --json`, its JSON result. */
export function latentgpu(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile('npx', ['tsx', 'src/cli/main.ts', ...args, '--backend', 'cpu', '--json'], { maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`latentgpu ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
        return;
      }
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`latentgpu ${args.join(' ')}: stdout is not JSON: ${last.slice(0, 200)}`));
      }
    });
  });
}

/** A small safetensors file for the bad-file checks. */
export function safetensors(tensors: Record<string, Float32Array>, metadata: Record<string, string>): Buffer {
  const map: TensorMap = {};
  for (const [k, v] of Object.entries(tensors)) map[k] = { dtype: 'F32', shape: [v.length], data: v };
  return Buffer.from(encodeSafetensors(map, metadata));
}
