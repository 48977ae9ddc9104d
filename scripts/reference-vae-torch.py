#!/usr/bin/env python3
"""PyTorch reference for latentgpu's classic VAE (issue #4's "on par with a
PyTorch implementation of the same model on the same split").

Not a project dependency: run it with Debian's PyTorch (apt-get install
--no-install-recommends python3-torch, which installs for /usr/bin/python3; Debian's
build calls the system BLAS, the reference one unless libopenblas0-pthread is
installed, which makes it ~20x faster here):

  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference-vae-torch.py [--epochs 20] [--iwae-k 1000] [--seed 0] [--threads 1]

The model is the one of src/models/vae.ts: 784-400-(20, 20) encoder, 20-400-784
Bernoulli-logits decoder, ReLU, nn.Linear's default init (W and b uniform in
+-1/sqrt(in), the rule latentgpu copies), one-sample reparameterisation, loss
-(1/B) sum_i [log p(x_i|z_i) - KL_i], Adam 1e-3, betas (0.9, 0.999), eps 1e-8,
batch 128 with the ragged last batch kept, a fresh shuffle each epoch. Data: the
project's data/mnist-10k.bin read directly, split by the README's rule (row i is
test when i % 5 == 4), pixels k/255, not binarised. Prints one JSON object.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_split(path):
    with open(path, 'rb') as f:
        raw = f.read()
    if raw[:8] != b'LGMNIST1':
        raise SystemExit(f'{path}: not a latentgpu MNIST file')
    rows, cols = struct.unpack_from('<II', raw, 8)
    pixels = torch.frombuffer(bytearray(raw[16 + rows:]), dtype=torch.uint8).reshape(rows, cols)
    x = pixels.float() / 255.0
    test = torch.arange(rows) % 5 == 4
    return x[~test].contiguous(), x[test].contiguous()


class Vae(nn.Module):
    def __init__(self, D=784, hidden=400, d=20):
        super().__init__()
        self.enc = nn.Linear(D, hidden)
        self.mu = nn.Linear(hidden, d)
        self.logvar = nn.Linear(hidden, d)
        self.dec = nn.Linear(d, hidden)
        self.out = nn.Linear(hidden, D)

    def encode(self, x):
        h = F.relu(self.enc(x))
        return self.mu(h), self.logvar(h)

    def logits(self, z):
        return self.out(F.relu(self.dec(z)))


def log_bernoulli(x, logits):
    # sum_j [x l - softplus(l)] per row
    return -F.binary_cross_entropy_with_logits(logits, x, reduction='none').sum(-1)


def kl_std_normal(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


@torch.no_grad()
def test_elbo(model, x, chunk=1000):
    ll = kl = 0.0
    for s in range(0, len(x), chunk):
        xb = x[s:s + chunk]
        mu, lv = model.encode(xb)
        z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
        ll += log_bernoulli(xb, model.logits(z)).sum().item()
        kl += kl_std_normal(mu, lv).sum().item()
    n = len(x)
    return (ll - kl) / n, ll / n, kl / n


@torch.no_grad()
def test_iwae(model, x, K, rows=20):
    total = 0.0
    for s in range(0, len(x), rows):
        xb = x[s:s + rows]
        mu, lv = model.encode(xb)
        eps = torch.randn(K, *mu.shape)
        z = mu + eps * (0.5 * lv).exp()
        ll = log_bernoulli(xb.expand(K, *xb.shape), model.logits(z))
        # log p(z) - log q(z|x); the 2*pi terms cancel and (z - mu)^2 / s^2 = eps^2
        logw = ll - 0.5 * z.pow(2).sum(-1) + 0.5 * (eps.pow(2) + lv).sum(-1)
        total += (torch.logsumexp(logw.double(), 0) - math.log(K)).sum().item()
    return total / len(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--iwae-k', type=int, default=1000)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--data', default=os.path.join(ROOT, 'data', 'mnist-10k.bin'))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)  # OPENBLAS_NUM_THREADS too, for the BLAS behind it
    torch.manual_seed(a.seed)
    train_x, test_x = load_split(a.data)
    model = Vae()
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    t0 = time.perf_counter()
    epochs = []
    for epoch in range(a.epochs):
        perm = torch.randperm(len(train_x))
        tot = 0.0
        for s in range(0, len(train_x), a.batch):
            xb = train_x[perm[s:s + a.batch]]
            mu, lv = model.encode(xb)
            z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
            loss = -(log_bernoulli(xb, model.logits(z)) - kl_std_normal(mu, lv)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += loss.item() * len(xb)
        epochs.append(tot / len(train_x))
        print(f'epoch {epoch + 1}/{a.epochs}: train -ELBO {epochs[-1]:.3f}, {time.perf_counter() - t0:.1f} s', file=sys.stderr)
    train_s = time.perf_counter() - t0
    model.eval()
    elbo, ll, kl = test_elbo(model, test_x)
    t1 = time.perf_counter()
    iwae = test_iwae(model, test_x, a.iwae_k)
    iwae_s = time.perf_counter() - t1
    print(json.dumps({
        'impl': f'pytorch {torch.__version__}', 'threads': a.threads, 'seed': a.seed,
        'n_train': len(train_x), 'n_test': len(test_x), 'epochs': a.epochs,
        'train_neg_elbo_per_epoch': epochs,
        'test_elbo': elbo, 'test_loglik': ll, 'test_kl': kl,
        'test_iwae': iwae, 'iwae_k': a.iwae_k,
        'train_seconds': train_s, 'iwae_seconds': iwae_s,
    }))


if __name__ == '__main__':
    main()
