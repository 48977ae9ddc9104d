// The public API in-process: the Node and browser entries export the same
// surface but for the file system and the backend openers, and every model
// survives the one model-file codec (encode → decode → build) with the same
// figures, through bytes and through a file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as browser from '../src/browser.ts';
import * as node from '../src/index.ts';

const NODE_ONLY = ['MNIST_PATH', 'createCpuBackend', 'createWebGpuBackend', 'loadDataFile', 'loadMnist', 'loadModelFile', 'openFileSource', 'saveModelFile'];
const BROWSER_ONLY = ['BACKEND_CHOICES', 'hasWebGpuApi', 'openBackend', 'openCpuBackend'];

describe('public API', () => {
  it('the browser entry is the Node entry without the file system', () => {
    const n = Object.keys(node).sort();
    const b = Object.keys(browser).sort();
    expect(n.filter((k) => !b.includes(k)).sort()).toEqual(NODE_ONLY);
    expect(b.filter((k) => !n.includes(k)).sort()).toEqual(BROWSER_ONLY);
    for (const k of n.filter((k) => b.includes(k) && k !== 'createBackend')) {
      expect((browser as Record<string, unknown>)[k], k).toBe((node as Record<string, unknown>)[k]);
    }
  });

  const backend = new node.CpuBackend();
  const { data } = node.syntheticPpca({ n: 300, D: 12, d: 3, sigma: 0.5, seed: 3 });
  const { train, test } = node.splitTrainTest(data);
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('PPCA: a model file gives back the exact log-likelihood, from bytes and from a file', async () => {
    const trainDev = node.uploadData(backend, train);
    const testDev = node.uploadData(backend, test);
    const em = await node.fitEm(backend, trainDev, { d: 3, maxIters: 30 });
    const before = await node.meanLogLik(em.model, testDev);
    expect(Number.isFinite(before)).toBe(true);
    const file = node.decodeModelFile(await node.encodeModelFile(em.model, { metadata: { method: 'em' } }));
    expect(file.kind).toBe('ppca');
    const built = node.buildModel(backend, file);
    expect(built.kind === 'ppca' && await node.meanLogLik(built.model, testDev)).toBe(before);
    await node.saveModelFile(join(dir, 'ppca.safetensors'), em.model);
    const loaded = node.buildModel(backend, await node.loadModelFile(join(dir, 'ppca.safetensors')));
    expect(loaded.kind === 'ppca' && await node.meanLogLik(loaded.model, testDev)).toBe(before);
  });

  it('VAE and per-point model: the test ELBO is the same after a round trip; state resumes exactly', async () => {
    const small = { latent: 2, decoderHidden: [8], likelihood: 'gaussian' as const, varCeil: 10 };
    const vae = new node.Vae(backend, { ...node.classicVaeConfig(12), ...small, encoderHidden: [8] }, train.x, train.n);
    const lvm = new node.Lvm(backend, { ...node.defaultLvmConfig(12), ...small, phiLr: 0.05 }, train.x, train.n);
    const set = new node.EvalSet(backend, test, test.D);
    for (const model of [vae, lvm]) {
      const run = await node.train(model, { epochs: 3, batch: 40, lr: 3e-3, seed: 1 });
      expect(run.epochs.at(-1)!.objective).toBeGreaterThan(run.epochs[0]!.objective);
      if (model instanceof node.Lvm) await model.fitPosterior(test.x, test.n, { steps: 20, seed: 1 });
      const before = await node.evaluateElbo(model, set, { seed: 2 });
      const file = node.decodeModelFile(await node.encodeModelFile(model, { state: true }), 'round trip');
      expect(file.kind === 'ppca' ? false : file.hasState).toBe(true);
      const built = node.buildModel(backend, file, train);
      expect(built.kind).toBe(model instanceof node.Vae ? 'vae' : 'lvm');
      const copy = built.model as typeof model;
      expect(await backend.read(copy.params)).toEqual(await backend.read(model.params));
      if (copy instanceof node.Lvm) await copy.fitPosterior(test.x, test.n, { steps: 20, seed: 1 });
      expect((await node.evaluateElbo(copy, set, { seed: 2 })).elbo).toBe(before.elbo);
      // one more epoch from the saved optimizer state is the original's next epoch, bit for bit
      const more = { epochs: 4, batch: 40, lr: 3e-3, seed: 1, startEpoch: 3, startStep: run.steps };
      await node.train(model, more);
      await node.train(copy, more);
      expect(await backend.read(copy.params)).toEqual(await backend.read(model.params));
    }
    expect(() => node.buildModel(backend, node.decodeModelFile(new Uint8Array(4), 'x.safetensors'))).toThrow(/^x\.safetensors: /);
  });

  it('runs: defaults from the one config, a PPCA run ticks, saves and continues from its file', async () => {
    expect(node.resolveRunConfig({ kind: 'vae' }, 50)).toMatchObject({ latent: 20, batch: 50, stepsPerTick: 10, hidden: [400], likelihood: 'auto' });
    expect(node.resolveRunConfig({ kind: 'ppca-em' }, 500)).toMatchObject({ latent: 10, batch: 100, stepsPerTick: 1 });
    // the closed-form optimum is computed on this thread unless a page passes its own
    const em = await node.createRun(backend, { kind: 'ppca-em', latent: 3 }, train, test);
    let last = NaN;
    for (let t = 0; t < 20; t++) last = (await em.tick()).trainObjective!;
    expect(last).toBeLessThanOrEqual(em.optimum! + 1e-6);
    expect(last).toBeGreaterThan(em.optimum! - 0.05);
    em.dispose();

    const sem = await node.createRun(backend, { kind: 'ppca-sem', latent: 3, batch: 32, stepsPerTick: 5, semLr: 0.01 }, train, test, {
      optimum: async () => undefined, metadata: { source: 'test' },
    });
    for (let t = 0; t < 3; t++) expect((await sem.tick()).steps).toBe(5);
    const { test: before } = await sem.evaluate();
    const bytes = await sem.save();
    sem.dispose();
    const rf = node.decodeRunFile(bytes);
    expect([rf.kind, rf.latent, rf.file.metadata.step, rf.file.metadata.source]).toEqual(['ppca-sem', 3, '15', 'test']);
    const again = await node.loadRun(backend, rf, { stepsPerTick: 5, semLr: 0.01 }, train, test, { optimum: async () => undefined });
    expect((await again.evaluate()).test).toBe(before);
    expect((await again.tick()).steps).toBe(5);
    again.dispose();
    // a PPCA file continues with any PPCA method, not as a latent model
    await expect(node.loadRun(backend, bytes, { kind: 'vae' }, train, test)).rejects.toThrow('holds a PPCA model, not vae');
  });

  it('runs: a VAE run chooses its likelihood from the data, and its file loads back to the same test ELBO', async () => {
    const cfg = { kind: 'vae' as const, latent: 2, hidden: [8], batch: 40, stepsPerTick: 4, lr: 3e-3 };
    const vae = await node.createRun(backend, cfg, train, test);
    expect(vae.likelihoodNote).toMatch(/outside \[0, 1\].*Gaussian decoder/);
    const r = await vae.tick();
    expect([r.steps, r.samples]).toEqual([4, 160]);
    const { test: before } = await vae.evaluate();
    const bytes = await vae.save();
    vae.dispose();
    const back = await node.loadRun(backend, bytes, cfg, train, test);
    expect([back.kind, back.config.hidden, back.config.likelihood]).toEqual(['vae', [8], 'gaussian']);
    expect((await back.evaluate()).test).toBe(before);
    back.dispose();
    await expect(node.createRun(backend, { ...cfg, likelihood: 'bernoulli' }, train, test)).rejects.toThrow(node.LikelihoodError);
  });

  it('runs: the data of a page from a Blob (size checked first), split 4:1', async () => {
    const csv = Array.from({ length: 10 }, (_, i) => `${i / 10},${i / 20}`).join('\n');
    const data = node.splitRunData(await node.readDataBlob(new Blob([csv]), 'rows.csv'));
    expect([data.train.n, data.test.n, data.train.D, data.unitRange]).toEqual([8, 2, 2, true]);
    await expect(node.readDataBlob(new Blob([]), 'none.csv')).rejects.toThrow('none.csv: the file is empty');
    const syn = node.syntheticRunData({ n: 50, D: 4, d: 1, sigma: 0.1, seed: 2 });
    expect([syn.train.n, syn.test.n, JSON.parse(syn.metadata.synthetic_data!).D]).toEqual([40, 10, 4]);
  });
});
