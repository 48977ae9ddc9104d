// Runs the command line in this process, then reports the process's peak
// memory on file descriptor 3 (the harness in run.ts reads it). Exit codes are
// the CLI's own; a V8 fatal error or a signal shows up as something else.
import { writeSync } from 'node:fs';
import { runCli } from '../../src/cli/program.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
});
try {
  writeSync(3, JSON.stringify({ code, maxRssKb: process.resourceUsage().maxRSS }));
} catch {
  // not started by the harness
}
process.exit(code);
