#!/usr/bin/env python3
"""PyTorch + timm peer of `pepr bench train`: the same cases, measured the same way.

Each case: a timm model with 10 classes and 3 input channels, a constant random batch (normal 0, 1)
of `--batch` images at size x size, labels i % 10, cross-entropy, Adam (lr 5e-4, torch defaults
otherwise), `--warmup` untimed steps then `--steps` timed full training steps (forward, loss,
backward, optimiser step). The loss is read back every step, as pepr does. Threads: torch.set_num_threads.

Needs torch and timm (a scratch venv; neither is a dependency of pepr or its tests). Prints one line per
case: `arch size train_images_per_s [eval_images_per_s]`, and with --json one JSON object per line.
Peak resident memory of one case: run it alone under `/usr/bin/time -v`.
"""
import argparse
import json
import sys
import time

import torch
import timm


def measure(arch, size, batch, steps, warmup, evaluate):
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, num_classes=10, in_chans=3)
    images = torch.randn(batch, 3, size, size)
    labels = torch.arange(batch) % 10
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()
    seconds = 0.0
    for step in range(warmup + steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.item()
        loss.backward()
        opt.step()
        if step >= warmup:
            seconds += time.perf_counter() - start
    row = {"arch": arch, "size": size, "batch": batch, "steps": steps,
           "train_images_per_s": steps * batch / seconds}
    if evaluate:
        model.eval()
        seconds = 0.0
        with torch.inference_mode():
            for step in range(warmup + steps):
                start = time.perf_counter()
                model(images).sum().item()
                if step >= warmup:
                    seconds += time.perf_counter() - start
        row["eval_images_per_s"] = steps * batch / seconds
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet18", "mobilenetv2_050"])
    p.add_argument("--sizes", nargs="+", type=int, default=[28, 64])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--eval", action="store_true", help="also time inference-mode forward passes")
    p.add_argument("--json", action="store_true", help="one JSON object per case")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(f"# torch {torch.__version__}, timm {timm.__version__}, {torch.get_num_threads()} threads", flush=True)
    for arch in a.models:
        for size in a.sizes:
            try:
                row = measure(arch, size, a.batch, a.steps, a.warmup, a.eval)
            except Exception as e:  # a model too deep for the size: say so, keep going
                print(f"{arch} {size} error {str(e).splitlines()[0]}", flush=True)
                continue
            if a.json:
                print(json.dumps(row), flush=True)
            else:
                extra = f" {row['eval_images_per_s']:.1f}" if a.eval else ""
                print(f"{arch} {size} {row['train_images_per_s']:.1f}{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
