// The app's reading of a user's file: its size is checked before the bytes are read.
import { describe, expect, it } from 'vitest';
import { loadUserFile } from '../app/data.ts';

/** A File whose size is claimed, with only its first bytes real; reading it all fails the test. */
function claimedFile(name: string, size: number, head: Uint8Array): File {
  return {
    name, size,
    slice: (a: number, b: number) => new Blob([head.slice(a, b)]),
    arrayBuffer: () => Promise.reject(new Error('read the whole file before checking its size')),
  } as unknown as File;
}

describe('app: a user file', () => {
  it('over the cap is refused by its size before it is read (CSV 500 MiB, NPY 2 GiB)', async () => {
    const csv = new TextEncoder().encode('1,2,3\n');
    await expect(loadUserFile(claimedFile('big\x1b.csv', 600 * 2 ** 20, csv))).rejects.toThrow(/^big\\x1b\.csv is 600 MiB, over the page's 500 MiB limit for text files/);
    const npy = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    await expect(loadUserFile(claimedFile('big.npy', 3 * 2 ** 30, npy))).rejects.toThrow(/big\.npy is 3072 MiB, over the page's 2048 MiB limit for \.npy files/);
  });

  it('an empty file, and a small CSV that loads', async () => {
    await expect(loadUserFile(new File([], 'empty.csv'))).rejects.toThrow('empty.csv: the file is empty');
    const rows = Array.from({ length: 10 }, (_, i) => `${i},${i * 2},${0.5}`).join('\n');
    const d = await loadUserFile(new File([rows], 'ok.csv'));
    expect([d.train.n, d.test.n, d.train.D, d.unitRange]).toEqual([8, 2, 3, false]);
  });
});
