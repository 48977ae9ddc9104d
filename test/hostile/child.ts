// Runs the command line in this process, then reports the process's peak
// memory on file descriptor 3 (the harness in run.ts reads it). Exit codes are
// the CLI's own; a V8 fatal error or a signal shows up as something else.
import { readFileSync, writeSync } from 'node:fs';
import { runCli } from '../../src/cli/program.ts';

const code = await runCli(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
});
// VmHWM is this program's own peak: getrusage's maxRSS can carry the parent's
// peak across fork + exec on Linux
function peakKb(): number {
  const m = /VmHWM:\s*(\d+)\s*kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : process.resourceUsage().maxRSS;
}
try {
  writeSync(3, JSON.stringify({ code, maxRssKb: peakKb() }));
} catch {
  // not started by the harness
}
process.exit(code);
