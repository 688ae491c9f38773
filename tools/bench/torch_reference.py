"""PyTorch reference for `npm run bench -- engine`: the same two models, batch sizes,
optimizer and synthetic data shapes as tools/bench/src/engine.ts, timed the same way
(warm-up, then repetitions of N steps; median examples/s). Every step reads its loss
and accuracy back, as the tfjs trainer does.

The fair reference (see /work/shared/STACK.md): Debian's python3-torch with
libopenblas0-pthread, run as

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench/torch_reference.py [--quick] [--threads N] [--workloads mlp,cnn]

(the native-cpu comparison runs it at --threads 1 and at every core, with
OPENBLAS_NUM_THREADS equal to --threads).

Prints one JSON line: {"mlp": ex/s, "cnn": ex/s, "torch": version, "threads": n, ...}.
"""

import argparse
import json
import os
import statistics
import time

import torch
from torch import nn

LEARNING_RATE = 1e-3
DISTINCT_BATCHES = 4
SLOW_STEP_S = 1.0


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    # 28 -> 26 -> 13 -> 11 -> 5, as tfjs's 'valid' convolutions and floor pooling.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(5 * 5 * 32, 10),
    )


WORKLOADS = {
    "mlp": (mlp, (784,), 128),
    "cnn": (cnn, (1, 28, 28), 64),
}


def measure(name, quick):
    build, shape, batch = WORKLOADS[name]
    torch.manual_seed(7)
    model = build()
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    # CrossEntropyLoss takes logits: the softmax the tfjs model ends with is inside it.
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(11)
    batches = [(torch.rand((batch, *shape), generator=gen), torch.randint(0, 10, (batch,), generator=gen)) for _ in range(DISTINCT_BATCHES)]
    state = {"i": 0}

    def step():
        xs, ys = batches[state["i"] % DISTINCT_BATCHES]
        state["i"] += 1
        opt.zero_grad(set_to_none=True)
        out = model(xs)
        loss = loss_fn(out, ys)
        loss.backward()
        opt.step()
        acc = (out.argmax(1) == ys).float().mean()
        return loss.item(), acc.item()

    rep_s, reps, slow_reps, warmup = (0.4, 3, 2, 3) if quick else (2.0, 5, 3, 5)
    step()
    step_s = float("inf")
    for _ in range(1, warmup):
        t = time.perf_counter()
        step()
        step_s = time.perf_counter() - t
        if step_s > SLOW_STEP_S:
            break
    slow = step_s > SLOW_STEP_S
    steps = 1 if slow else max(2, min(1000, int(rep_s / step_s) + 1))
    rates = []
    for _ in range(slow_reps if slow else reps):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - t))
    return statistics.median(rates), rates


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (set OPENBLAS_NUM_THREADS to match)")
    parser.add_argument("--workloads", default="mlp,cnn")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = {}
    for name in args.workloads.split(","):
        value, rates = measure(name, args.quick)
        out[name] = value
        out[f"{name}_reps"] = rates
    out["torch"] = torch.__version__
    out["threads"] = torch.get_num_threads()
    out["openblas_num_threads"] = os.environ.get("OPENBLAS_NUM_THREADS", "")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
