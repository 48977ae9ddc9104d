// PPCA by exact EM and a small VAE on MNIST in the browser, with latentgpu. ?backend=auto|webgpu|cpu&rows=2000&iters=100&epochs=3
import { EvalSet, Vae, classicVaeConfig, createBackend, evaluateElbo, fetchMnist, fitEm, meanLogLik, Trainer, uploadData, type BackendChoice } from 'latentgpu';
import mnistUrl from 'latentgpu/data/mnist-10k.bin?url';

const out = document.querySelector('#out')!;
const say = (line: string): void => void (out.textContent += `${line}\n`);
addEventListener('unhandledrejection', (e) => { say(`error: ${e.reason}`); document.body.dataset.error = String(e.reason); });
const q = new URLSearchParams(location.search);
const backend = await createBackend({ backend: (q.get('backend') ?? 'auto') as BackendChoice, log: say }); // auto: a hardware GPU, else the CPU
const mnist = await fetchMnist(mnistUrl, { subset: Number(q.get('rows') ?? 2000) });
say(`${backend.info.summary}: ${mnist.train.n} train, ${mnist.test.n} test digits`);

// PPCA with 10 latent dimensions: exact log-likelihood in nats per digit
const em = await fitEm(backend, uploadData(backend, mnist.train), { d: 10, maxIters: Number(q.get('iters') ?? 100) });
const ppcaTest = await meanLogLik(em.model, uploadData(backend, mnist.test));
say(`PPCA, ${em.iterations} EM iterations: log-likelihood ${em.loglik.toFixed(2)} train, ${ppcaTest.toFixed(2)} test (nats/digit)`);

// a VAE 784-200-10 with a Bernoulli decoder: the ELBO per digit each epoch, then on the test digits
const vae = new Vae(backend, { ...classicVaeConfig(784), latent: 10, encoderHidden: [200], decoderHidden: [200] }, mnist.train.x, mnist.train.n);
const trainer = new Trainer(vae, {
  epochs: Number(q.get('epochs') ?? 3), batch: 100, lr: 1e-3, seed: 1,
  onEpoch: (done, _step, e) => say(`VAE epoch ${done}: train ELBO ${e.objective.toFixed(2)} nats/digit`),
});
while (!trainer.done) await trainer.tick(10); // a tick at a time: the page stays responsive between ticks
const run = trainer.result();
const test = await evaluateElbo(vae, new EvalSet(backend, mnist.test, 784));
say(`VAE test ELBO ${test.elbo.toFixed(2)} nats/digit (${Math.round(run.samplesPerSecond)} samples/s)`);
document.body.dataset.result = JSON.stringify({ backend: backend.info.backend, ppca: { train: em.loglik, test: ppcaTest }, vae: { epochs: run.epochs.map((e) => e.objective), test: test.elbo } });
