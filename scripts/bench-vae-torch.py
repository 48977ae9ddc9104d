#!/usr/bin/env python3
"""Training throughput of the classic VAE in PyTorch on the CPU: the yardstick
that bench/cpu-wasm.ts quotes next to the WebAssembly backend's samples/s.

Not a project dependency: Debian's python3-torch installs for /usr/bin/python3.

  /usr/bin/python3 scripts/bench-vae-torch.py [--threads 1] [--steps 60] [--batch 128]

Same model and step as src/models/vae.ts with classicVaeConfig(): 784-400-(20, 20)
encoder, 20-400-784 Bernoulli-logits decoder, ReLU, one reparameterised sample,
loss -(1/B) sum_i [log p(x_i|z_i) - KL_i], Adam 1e-3. Throughput does not depend
on the pixel values, so the batches are rows of data/mnist-10k.bin when it is
there and uniform noise otherwise. A few warm-up steps, then `--steps` timed
steps; prints one JSON object with wall and process-CPU samples/s (the machine
is shared: CPU time says how much of a core the run really got).
"""
import argparse
import json
import os
import re
import struct
import time


def _threads_from_argv():
    # OpenBLAS (the usual libblas.so.3 behind Debian's torch) starts one thread
    # per core unless told before it loads; torch.set_num_threads does not reach it
    import sys
    for i, arg in enumerate(sys.argv):
        if arg == '--threads' and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith('--threads='):
            return arg.split('=', 1)[1]
    return '1'


os.environ.setdefault('OPENBLAS_NUM_THREADS', _threads_from_argv())
os.environ.setdefault('OMP_NUM_THREADS', _threads_from_argv())

import torch  # noqa: E402 (after the thread settings)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_rows(path, D=784):
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError:
        return None
    if raw[:8] != b'LGMNIST1':
        raise SystemExit(f'{path}: not a latentgpu MNIST file')
    rows, cols = struct.unpack_from('<II', raw, 8)
    if cols != D:
        raise SystemExit(f'{path}: {cols} columns, expected {D}')
    pixels = torch.frombuffer(bytearray(raw[16 + rows:]), dtype=torch.uint8).reshape(rows, cols)
    return pixels.float() / 255.0


class Vae(nn.Module):
    def __init__(self, D=784, hidden=400, d=20):
        super().__init__()
        self.enc = nn.Linear(D, hidden)
        self.head = nn.Linear(hidden, 2 * d)
        self.dec = nn.Linear(d, hidden)
        self.out = nn.Linear(hidden, D)
        self.d = d

    def loss(self, x):
        mu, lv = self.head(F.relu(self.enc(x))).split(self.d, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        logits = self.out(F.relu(self.dec(z)))
        # log p(x|z) = x*l - softplus(l), summed over pixels
        ll = (x * logits - F.softplus(logits)).sum(1)
        kl = 0.5 * (mu * mu + lv.exp() - 1 - lv).sum(1)
        return -(ll - kl).mean()


def blas_info():
    # Debian's build links whatever libblas.so.3 the system selects (the netlib
    # reference BLAS unless OpenBLAS/BLIS is installed): it decides the figure
    m = re.search(r'BLAS_INFO=([^,\s]+)', torch.__config__.show())
    blas = os.path.realpath('/usr/lib/x86_64-linux-gnu/libblas.so.3')
    return f'{m.group(1) if m else "unknown"} ({blas})'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=60)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--data', default=os.path.join(ROOT, 'data', 'mnist-10k.bin'))
    a = ap.parse_args()
    if a.steps < 1 or a.batch < 1 or a.threads < 1:
        raise SystemExit('--steps, --batch and --threads must be positive')
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = load_rows(a.data)
    source = 'mnist-10k.bin' if x is not None else 'uniform noise'
    if x is None:
        x = torch.rand(8000, 784)
    model = Vae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step(i):
        idx = torch.randint(0, len(x), (a.batch,))
        loss = model.loss(x[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        step(i)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    loss = float(loss)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(json.dumps({
        'impl': f'pytorch {torch.__version__} (CPU)', 'blas': blas_info(),
        'threads': a.threads, 'batch': a.batch, 'steps': a.steps, 'data': source,
        'samples_per_second': a.steps * a.batch / wall,
        'samples_per_cpu_second': a.steps * a.batch / cpu,
        'cores_used': cpu / wall, 'last_loss': loss,
        'load_average': os.getloadavg()[0],
    }))


if __name__ == '__main__':
    main()
