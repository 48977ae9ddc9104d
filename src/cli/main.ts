// The latentgpu command line (entry point); everything else is in program.ts.
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  tty: process.stderr.isTTY ? process.stderr : undefined,
  env: process.env,
});
