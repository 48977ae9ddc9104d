// PPCA by exact EM and a small VAE on the bundled MNIST digits, with latentgpu from Node.
//   node examples/node-train.mjs [--backend auto|webgpu|cpu] [--rows 2000] [--epochs 3]
import { parseArgs } from 'node:util';
import { EvalSet, Vae, classicVaeConfig, createBackend, evaluateElbo, fitEm, loadMnist, meanLogLik, train, uploadData } from 'latentgpu';

const { values: o } = parseArgs({ options: { backend: { type: 'string', default: 'auto' }, rows: { type: 'string', default: '2000' }, epochs: { type: 'string', default: '3' } } });
const backend = await createBackend({ backend: o.backend }); // auto: a hardware GPU, else the CPU
const mnist = loadMnist({ subset: Number(o.rows) }); // train rows spread over all digits; 2,000 test rows
console.log(`${backend.info.summary}: ${mnist.train.n} train, ${mnist.test.n} test digits`);

// PPCA with 10 latent dimensions: exact log-likelihood in nats per digit
const em = await fitEm(backend, uploadData(backend, mnist.train), { d: 10, maxIters: 100 });
const ppcaTest = await meanLogLik(em.model, uploadData(backend, mnist.test));
console.log(JSON.stringify({ model: 'ppca', iterations: em.iterations, train_loglik: em.loglik, test_loglik: ppcaTest }));

// a VAE 784-200-10 with a Bernoulli decoder: the ELBO per digit each epoch, then on the test digits
const cfg = { ...classicVaeConfig(784), latent: 10, encoderHidden: [200], decoderHidden: [200] };
const vae = new Vae(backend, cfg, mnist.train.x, mnist.train.n);
const run = await train(vae, {
  epochs: Number(o.epochs), batch: 100, lr: 1e-3, seed: 1, signal: AbortSignal.timeout(600_000), // stops cleanly after 10 minutes
  onEpoch: (done, _step, e) => console.log(`epoch ${done}: train ELBO ${e.objective.toFixed(2)} nats/digit`),
});
const test = await evaluateElbo(vae, new EvalSet(backend, mnist.test, 784));
console.log(JSON.stringify({ model: 'vae', epoch_elbo: run.epochs.map((e) => e.objective), test_elbo: test.elbo, samples_per_second: run.samplesPerSecond }));
backend.destroy();
