// The runs a page trains beyond the lecture (src/lib/faRun.ts, missingRun.ts,
// ppcaRun.ts 'ppca-closed'): ticks continue one fit, so a run of ticks equals
// the library's fit of the same total on the same backend; the closed form is
// closedFormPpca; hidden entries are drawn at the asked rate (seeded) and the
// imputation RMSE counts exactly the hidden entries.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { encodeNpy } from '../src/data/npy.ts';
import { hideAtRandom, imputationRmse, streamDataBlob, syntheticRunData } from '../src/lib/runData.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { createRun, decodeRunFile, loadRun } from '../src/lib/runs.ts';
import { faMeanLogLik, fitFa } from '../src/models/fa/fa.ts';
import { fitFaMissingOn } from '../src/models/fa/missingOn.ts';
import { fitMppca } from '../src/models/mppca/mppca.ts';
import { closedFormPpca } from '../src/models/ppca/closed.ts';
import { fitPpcaMissing, imputeMissing } from '../src/models/ppca/missing.ts';
import { releaseData, uploadData } from '../src/models/ppca/model.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';

const data = syntheticRunData({ n: 400, D: 12, d: 3, sigma: 0.4, seed: 5 });
const { train, test } = data;
const host = (ds: typeof train) => ({ host: ds.x, n: ds.n, D: ds.D });
const none = { optimum: async () => undefined };
const hidden = hideAtRandom(data, 0.3, 9);
const decodeSafetensorsMeta = (bytes: Uint8Array): Record<string, string> => decodeSafetensors(bytes).metadata;

function suite(name: string, backendOf: () => Promise<Backend>): void {
  describe(`runs beyond the lecture on ${name}`, () => {
    it('fa: three ticks of 4 EM maps equal fitFa of 12 from the same start; ψ, Heywood figures, exact estimator', async () => {
      const b = await backendOf();
      const run = await createRun(b, { kind: 'fa', latent: 3, seed: 2, stepsPerTick: 4 }, train, test, none);
      let last = NaN;
      const points: number[] = [];
      for (let t = 0; t < 3; t++) {
        const r = await run.tick();
        expect(r.steps).toBe(4);
        points.push(...r.train!.map((p) => p[0]));
        last = r.trainObjective!;
      }
      // every iterate's figure at its own step
      expect(points).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      const dev = uploadData(b, train);
      const ref = await fitFa(b, dev, { d: 3, maxIters: 12, seed: 2 });
      releaseData(b, dev);
      expect(Math.abs(last - ref.loglik), `ticks ${last} vs one fit ${ref.loglik}`).toBeLessThan(1e-6);
      const { test: held } = await run.evaluate();
      expect(Math.abs(held - faMeanLogLik(ref.model, host(test)))).toBeLessThan(1e-6);
      const psi = await run.noiseVariances!();
      expect(psi.length).toBe(12);
      for (let j = 0; j < 12; j++) expect(Math.abs(psi[j]! - ref.model.psi[j]!)).toBeLessThan(1e-5 * ref.model.psi[j]! + 1e-7);
      expect((await run.figures!()).map((f) => f.name)).toEqual(['ψ at the floor (Heywood cases)', 'constant columns (ψ at the floor)']);
      const est = await run.estimators(test.x, test.n, 10);
      expect(est[0]!.value).toBeCloseTo(held, 10);
      // reconstructions of the rows are closer to them than the mean is
      const rec = await run.reconstruct(test.x, test.n);
      let errRec = 0;
      let errMean = 0;
      const mu = ref.model.mu;
      for (let k = 0; k < rec.length; k++) {
        errRec += (rec[k]! - test.x[k]!) ** 2;
        errMean += (mu[k % 12]! - test.x[k]!) ** 2;
      }
      expect(errRec).toBeLessThan(0.5 * errMean);
      run.dispose();
    });

    it('fa: SQUAREM, Anderson and stochastic EM ticks climb from the start and file their method', async () => {
      const b = await backendOf();
      for (const faMethod of ['squarem', 'anderson', 'sem'] as const) {
        const run = await createRun(b, { kind: 'fa', latent: 3, seed: 2, stepsPerTick: 9, faMethod, batch: 50 }, train, test, none);
        const start = (await run.evaluate()).train;
        let last = -Infinity;
        for (let t = 0; t < 3; t++) last = (await run.tick()).trainObjective!;
        expect(last, `${faMethod}: ${start} → ${last}`).toBeGreaterThan(start + 0.5);
        expect(run.unitName).toBe(faMethod === 'sem' ? 'stochastic EM step' : 'EM iteration');
        expect((await run.figures!()).length).toBe(2);
        expect(decodeSafetensorsMeta(await run.save()).method).toBe(faMethod);
        run.dispose();
      }
    });

    it('fa and mppca model files load back: the same test figure (float32 as stored), training continues', async () => {
      const b = await backendOf();
      for (const cfg of [{ kind: 'fa' as const, latent: 3, stepsPerTick: 5 }, { kind: 'mppca' as const, latent: 2, components: 2, stepsPerTick: 3 }]) {
        const run = await createRun(b, cfg, train, test, none);
        await run.tick();
        const before = (await run.evaluate()).test;
        const rf = decodeRunFile(await run.save(), 'x.safetensors');
        expect([rf.kind, rf.latent, rf.components]).toEqual([cfg.kind, cfg.latent, cfg.kind === 'mppca' ? 2 : undefined]);
        const back = await loadRun(b, rf, { stepsPerTick: 2 }, train, test, none);
        expect(Math.abs((await back.evaluate()).test - before), `${cfg.kind}: test figure after a round trip`).toBeLessThan(1e-4);
        expect((await back.tick()).steps).toBe(2);
        run.dispose();
        back.dispose();
      }
      expect(() => decodeRunFile(new Uint8Array(8), 'bad.safetensors')).toThrow(/^bad\.safetensors: /);
    });

    it('fa-missing: two ticks of 3 equal fitFaMissingOn of 6 from its default start; imputation beats the column means', async () => {
      const b = await backendOf();
      const run = await createRun(b, { kind: 'fa-missing', latent: 3, stepsPerTick: 3, seed: 4 }, hidden.train, hidden.test, none);
      let last = NaN;
      const steps: number[] = [];
      for (let t = 0; t < 2; t++) {
        const r = await run.tick();
        steps.push(...r.train!.map((p) => p[0]));
        last = r.trainObjective!;
      }
      const ref = await fitFaMissingOn(b, { x: hidden.train.x, n: hidden.train.n, D: 12 }, 3, { iters: 6, tol: 1e-300, seed: 4 });
      expect(steps).toEqual([0, 1, 2, 3, 4, 5]);
      expect(Math.abs(last - ref.loglik), `ticks ${last} vs one fit ${ref.loglik}`).toBeLessThan(1e-5);
      const imp = await run.impute!(hidden.test.x, hidden.test.n);
      const model = imputationRmse(test.x, hidden.test.x, imp.posterior);
      const mean = imputationRmse(test.x, hidden.test.x, imp.mean);
      expect(model.rmse, `model ${model.rmse} vs column means ${mean.rmse}`).toBeLessThan(0.8 * mean.rmse);
      expect((await run.noiseVariances!()).length).toBe(12);
      run.dispose();
    });

    it('mppca: two ticks of 3 EM steps report the E-step figures of fitMppca\'s first 6 iterates; components and figures', async () => {
      const b = await backendOf();
      const run = await createRun(b, { kind: 'mppca', components: 2, latent: 2, seed: 3, stepsPerTick: 3 }, train, test, none);
      const points: [number, number][] = [];
      for (let t = 0; t < 2; t++) {
        const r = await run.tick();
        expect([r.steps, r.trainObjective]).toEqual([3, undefined]);
        points.push(...r.train!);
      }
      const dev = uploadData(b, train);
      const ref = await fitMppca(b, dev, { K: 2, d: 2, seed: 3, maxIters: 5 });
      releaseData(b, dev);
      expect(points.map((p) => p[0])).toEqual([0, 1, 2, 3, 4, 5]);
      expect(points.map((p) => p[1])).toEqual(ref.trace.map((p) => p.loglik));
      // the current parameters' figures: the train E-step continues the climb, the test one is finite
      const { train: now, test: held } = await run.evaluate();
      expect(now).toBeGreaterThanOrEqual(points.at(-1)![1] - 1e-9);
      expect(Number.isFinite(held)).toBe(true);
      const c = await run.components!();
      expect([c.K, c.means.length, c.weights.reduce((a, w) => a + w, 0)]).toEqual([2, 24, expect.closeTo(1, 9)]);
      expect((await run.figures!()).map((f) => f.name)).toEqual(['components', 'σ² at the floor']);
      expect((await run.reconstruct(test.x, 5)).length).toBe(60);
      run.dispose();
    });

    it('ppca-closed: one tick is the closed form, later ticks report it converged', async () => {
      const b = await backendOf();
      const run = await createRun(b, { kind: 'ppca-closed', latent: 3 }, train, test, none);
      const r = await run.tick();
      const ref = closedFormPpca({ host: train.x, n: train.n, D: train.D }, 3);
      expect([r.steps, r.converged]).toEqual([1, true]);
      expect(Math.abs(r.trainObjective! - ref.loglik)).toBeLessThan(1e-7);
      expect(await run.tick()).toMatchObject({ steps: 0, converged: true });
      const file = decodeRunFile(await run.save());
      expect([file.kind, file.file.metadata.method]).toEqual(['ppca-closed', 'closed']);
      run.dispose();
    });

  it('ppca-missing: ticks (sums on the backend) equal the host float64 fitPpcaMissing of the same total; imputation beats the column means; the file continues the run', async () => {
    const b = await backendOf();
    const run = await createRun(b, { kind: 'ppca-missing', latent: 3, stepsPerTick: 3, seed: 1 }, hidden.train, hidden.test, none);
    let last = NaN;
    for (let t = 0; t < 2; t++) last = (await run.tick()).trainObjective!;
    const ref = fitPpcaMissing({ x: hidden.train.x, n: hidden.train.n, D: 12 }, 3, { iters: 6, tol: 0, seed: 1 });
    expect(Math.abs(last - ref.loglik), `ticks ${last} vs one fit ${ref.loglik}`).toBeLessThan(1e-5);
    const imp = await run.impute!(hidden.test.x, hidden.test.n);
    const model = imputationRmse(test.x, hidden.test.x, imp.posterior);
    const mean = imputationRmse(test.x, hidden.test.x, imp.mean);
    const refImp = imputationRmse(test.x, hidden.test.x, imputeMissing(ref, { x: hidden.test.x, n: test.n, D: 12 }));
    expect(model.entries).toBe(mean.entries);
    expect(Math.abs(model.rmse - refImp.rmse)).toBeLessThan(1e-4);
    expect(model.rmse, `model ${model.rmse} vs column means ${mean.rmse}`).toBeLessThan(0.8 * mean.rmse);
    const bytes = await run.save();
    const back = await loadRun(b, bytes, { stepsPerTick: 1 }, hidden.train, hidden.test, none);
    expect(back.kind).toBe('ppca-missing');
    expect(Math.abs((await back.evaluate()).train - last)).toBeLessThan(1e-4);
    run.dispose();
    back.dispose();
  });
  });
}

suite('cpu', async () => cpu);
for (const adapter of TEST_ADAPTERS) suite(adapter, () => gpuBackend(adapter));

describe('missing values: hiding entries, scoring imputations', () => {
  it('hides each entry with the asked probability (seeded), the complete rows kept', () => {
    const total = (train.n + test.n) * train.D;
    // binomial: mean 0.3 N, sd √(0.21 N) ≈ 0.0115 N^½; 5 sd
    expect(Math.abs(hidden.hidden - 0.3 * total)).toBeLessThan(5 * Math.sqrt(0.21 * total));
    let nan = 0;
    for (const v of [...hidden.train.x, ...hidden.test.x]) if (Number.isNaN(v)) nan++;
    expect(nan).toBe(hidden.hidden);
    expect(hidden.complete.train).toBe(train);
    expect(hideAtRandom(data, 0.3, 9).train.x).toEqual(hidden.train.x);
    expect(() => hideAtRandom(data, 1, 1)).toThrow('must lie in [0, 1)');
  });

  it('a .npy Blob streamed: samples in memory, the training rows as a source; online EM and the VAE train on it, other kinds refuse it', async () => {
    const all = syntheticRunData({ n: 5000, D: 12, d: 3, sigma: 0.4, seed: 5 });
    const rows = new Float32Array([...all.train.x, ...all.test.x]);
    const s = await streamDataBlob(new Blob([encodeNpy(rows, 5000, 12).slice()]), 'big.npy');
    expect([s.fileRows, s.source.n, s.train.n, s.test.n, s.source.array]).toEqual([5000, 4000, 2000, 1000, null]);
    await expect(createRun(cpu, { kind: 'ppca-em', latent: 3 }, s.train, s.test, { trainSource: s.source, ...none })).rejects.toThrow('only PPCA by stochastic or online EM and the VAE stream it');
    await expect(createRun(cpu, { kind: 'fa', latent: 3 }, s.train, s.test, { trainSource: s.source, ...none })).rejects.toThrow('is read a slice at a time');
    const run = await createRun(cpu, { kind: 'ppca-oem', latent: 3, batch: 100, stepsPerTick: 40 }, s.train, s.test, { trainSource: s.source, ...none });
    expect(run.objectiveName).toContain('2000 sampled rows');
    const first = (await run.evaluate()).train;
    const r = await run.tick();
    expect(r.steps).toBe(40);
    expect(r.trainObjective!, `online EM over the streamed rows: ${first} → ${r.trainObjective}`).toBeGreaterThan(first + 0.5);
    run.dispose();
    await expect(createRun(cpu, { kind: 'lvm', latent: 2 }, s.train, s.test, { trainSource: s.source, ...none })).rejects.toThrow('only PPCA by stochastic or online EM and the VAE stream it');
    const vae = await createRun(cpu, { kind: 'vae', latent: 2, hidden: [16], batch: 100, stepsPerTick: 30, lr: 3e-3 }, s.train, s.test, { trainSource: s.source, ...none });
    expect(vae.likelihoodNote).toMatch(/Gaussian/);
    const t1 = await vae.tick();
    const t2 = await vae.tick();
    expect([t1.steps, t2.steps]).toEqual([30, 30]);
    expect(t2.trainObjective!, `VAE over the streamed rows: ${t1.trainObjective} → ${t2.trainObjective}`).toBeGreaterThan(t1.trainObjective!);
    vae.dispose();
  });

  it('imputation RMSE: only the hidden entries known in the complete rows count', () => {
    const r = imputationRmse(Float32Array.of(1, 2, NaN, 4), Float32Array.of(1, NaN, NaN, NaN), Float32Array.of(9, 5, 7, 4));
    expect(r).toEqual({ rmse: Math.sqrt(9 / 2), entries: 2 });
    expect(() => imputationRmse(new Float32Array(2), new Float32Array(3), new Float32Array(3))).toThrow('must be equal');
  });
});
