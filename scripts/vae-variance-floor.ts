// How many per-pixel variances of trained Gaussian (vector-variance) decoders sit at the
// variance floor, and what the bounded log-variance gives in nats (docs/vae-results.md).
//   npx tsx scripts/vae-variance-floor.ts MODEL.safetensors [...]
import { loadSafetensors } from '../src/io/atomic.node.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Vae } from '../src/models/vae.ts';
import { Lvm } from '../src/models/lvm.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
const { train } = loadMnist();
let constant = 0;
for (let j = 0; j < train.D; j++) { let mx = 0; for (let i = 0; i < train.n; i++) mx = Math.max(mx, train.x[i * train.D + j]!); if (mx === 0) constant++; }
console.log('train pixels 0 in every row:', constant);
for (const f of process.argv.slice(2)) {
  const st = await loadSafetensors(f);
  const cfg = JSON.parse(st.metadata.config ?? '{}');
  if (cfg.likelihood !== 'gaussian' || cfg.variance !== 'vector') {
    console.error(`vae-variance-floor: ${f} is not a Gaussian decoder with a per-pixel variance vector`);
    process.exit(1);
  }
  const be = new CpuBackend();
  // the constructor needs training rows (initial variance); the trained parameters replace them
  const small = train.x.subarray(0, 256 * train.D);
  const m = st.metadata.model === 'vae' ? new Vae(be, cfg, small, 256) : new Lvm(be, cfg, small, 256);
  const p = st.tensors.params!.data as Float32Array;
  const raw = m.layout.slice(p, 'dec.logvar');
  const lo = Math.log(cfg.varFloor), range = Math.log(cfg.varCeil) - lo;
  // the decoder's bound: log σ² = log σ²_min + (log σ²_max − log σ²_min) · sigmoid(raw)
  const v = Array.from(raw, (r) => Math.exp(lo + range / (1 + Math.exp(-r)))).sort((a, b) => a - b);
  const atFloor = v.filter((x) => x < 1.01 * cfg.varFloor).length;
  const below = (t: number) => v.filter((x) => x < t).length;
  const nats = v.reduce((s, x) => s - 0.5 * Math.log(2 * Math.PI * x), 0);
  console.log(f, `floor ${cfg.varFloor}: ${atFloor} pixels within 1% of the floor, ${below(0.01)} below 0.01, median σ² ${v[v.length >> 1]!.toExponential(2)}, max ${v[v.length - 1]!.toExponential(2)}; Σ −½log(2πσ²) = ${nats.toFixed(1)} nats`);
}
