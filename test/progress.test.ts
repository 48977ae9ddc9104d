// Progress at scale (issue 14 item 5): rows/s and the time left, in place on a terminal
// and as occasional plain lines otherwise.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { formatDuration, formatRate, plainInterval, plainProgress, progressLine, rateAndEta, terminalProgress } from '../src/cli/progress.ts';

describe('progress formatting', () => {
  it('durations, rates, rows/s and ETA', () => {
    expect([formatDuration(0), formatDuration(44.6), formatDuration(65), formatDuration(3599), formatDuration(7620), formatDuration(NaN), formatDuration(Infinity)])
      .toEqual(['0s', '45s', '1m 05s', '59m 59s', '2h 07m', '?', '?']);
    expect([formatRate(0), formatRate(8.123), formatRate(812.4), formatRate(12_345), formatRate(1_050_000), formatRate(NaN)])
      .toEqual(['0.00', '8.12', '812', '12.3k', '1.05M', '?']);
    // 10 of 100 EM iterations of 8,000 rows in 5 s: 16,000 rows/s, 45 s left
    expect(rateAndEta(10, 100, 5, 8000)).toBe('16.0k rows/s | ETA 45s');
    // no row count: units per second
    expect(rateAndEta(3, 12, 1.5)).toBe('2.00/s | ETA 5s');
    expect(rateAndEta(0, 12, 0)).toBe('?/s | ETA ?');
    expect(rateAndEta(12, 12, 6, 100)).toBe('200 rows/s | ETA 0s');
    expect(progressLine('ppca em', 25, 200, 10, 70_000, { loglik: '181.9' })).toBe('ppca em 25/200 (12%) | 175k rows/s | ETA 1m 10s | loglik 181.9');
  });

  it('the plain-line interval comes from LATENTGPU_PROGRESS_SECONDS (default 10 s)', () => {
    expect(plainInterval({})).toBe(10);
    expect(plainInterval({ LATENTGPU_PROGRESS_SECONDS: '2.5' })).toBe(2.5);
    expect(plainInterval({ LATENTGPU_PROGRESS_SECONDS: 'soon' })).toBe(10);
  });
});

describe('plain progress lines', () => {
  it('writes a line only after each interval, a last one at stop, and nothing for a short job', () => {
    let t = 0;
    const out: string[] = [];
    const p = plainProgress((s) => out.push(s), 10, () => t);
    p.start(100, 'epochs', 1000);
    for (let e = 1; e <= 100; e++) {
      t = e * 0.5;
      p.tick(e, { elbo: -100 + e / 100 });
    }
    p.stop();
    // 50 s: lines at 10, 20, 30, 40 and 50 s (the last tick is at 50 s: stop adds none)
    expect(out.length).toBe(5);
    expect(out[0]).toBe('epochs 20/100 (20%) | 2.00k rows/s | ETA 40s | elbo -99.8000\n');
    expect(out.at(-1)).toMatch(/^epochs 100\/100 \(100%\) \| 2\.00k rows\/s \| ETA 0s/);
    out.length = 0;
    p.start(5, 'eval');
    t += 3;
    p.tick(5);
    p.stop();
    expect(out).toEqual([]);
    p.log('a message');
    expect(out).toEqual(['a message\n']);
  });

  it('stop writes the final state when it changed since the last line', () => {
    let t = 0;
    const out: string[] = [];
    const p = plainProgress((s) => out.push(s), 1, () => t);
    p.start(4, 'passes');
    t = 1;
    p.tick(1);
    t = 1.5;
    p.tick(2);
    p.stop();
    expect(out).toEqual(['passes 1/4 (25%) | 1.00/s | ETA 3s\n', 'passes 2/4 (50%) | 1.33/s | ETA 2s\n']);
  });
});

describe('terminal progress', () => {
  it('shows rows/s and the ETA in the bar', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 160 }) as unknown as NodeJS.WriteStream;
    let text = '';
    (stream as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
    let t = 0;
    const p = terminalProgress(stream, () => t);
    p.start(10, 'ppca em', 8000);
    t = 2;
    p.tick(4, { loglik: 181.5 });
    p.stop();
    expect(text).toMatch(/ppca em \[[^\]]*\] 4\/10 \|.*\| 16\.0k rows\/s \| ETA 3s \| loglik 181\.5000/);
  });
});
