// The committed API reference (docs/api) is what `npm run docs:api` generates from
// the TSDoc now: a changed export or doc comment without regenerating fails here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'latentgpu-api-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function files(dir: string): Map<string, string> {
  const m = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else m.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return m;
}

it('docs/api equals a fresh typedoc run, with no warnings (run `npm run docs:api` after changing the public API)', () => {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'typedoc'), ['--out', out, '--treatWarningsAsErrors'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  const fresh = files(out);
  const committed = files(join(ROOT, 'docs', 'api'));
  expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
  const stale = [...fresh].filter(([k, v]) => committed.get(k) !== v).map(([k]) => k);
  expect(stale, 'pages that differ from the TSDoc').toEqual([]);
});
