// The latentgpu command line. Subcommands live one per module in src/cli/.
import { Command } from 'commander';
import { ADAPTER_CHOICES } from '../gpu/device.ts';
import { createBackend } from '../node/backend.ts';

const program = new Command();
program.name('latentgpu').description('Latent-variable models (PPCA, per-point VI, VAE) trained with WGSL kernels on WebGPU');

program
  .command('info')
  .description('show which WebGPU adapter (or the CPU fallback) this machine gives')
  .option('--backend <b>', 'auto | webgpu | cpu', 'auto')
  .option('--adapter <a>', ADAPTER_CHOICES.join(' | '), process.env.LATENTGPU_ADAPTER ?? 'auto')
  .option('--json', 'print JSON')
  .action(async (o) => {
    const b = await createBackend({ backend: o.backend, adapter: o.adapter });
    if (o.json) process.stdout.write(`${JSON.stringify(b.info, null, 2)}\n`);
    else process.stdout.write(`${b.info.summary}\n`);
    b.destroy();
  });

program.parseAsync(process.argv).catch((e: Error) => {
  process.stderr.write(`latentgpu: ${e.message}\n`);
  process.exitCode = 1;
});
