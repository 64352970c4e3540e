#!/usr/bin/env python3
"""PyTorch + timm peer of `pepr bench train`: the same cases, measured the same way.

Each case: a model with 10 classes and 3 input channels (timm's, or for pepr's own `pepr_*` nets the
equivalent definition below), a constant random batch (normal 0, 1) of `--batch` images at size x size,
labels i % 10, cross-entropy, Adam (lr 5e-4, torch defaults otherwise), `--warmup` untimed steps then
`--steps` timed full training steps (forward, loss, backward, optimiser step). The loss is read back
every step, as pepr does. Threads: torch.set_num_threads.

Besides images/s it reports, as `pepr bench train` does for itself: the parameter count (pepr checks it
against its own), the CPU time (user + system, every thread) and wall time of the timed steps, and the
resident memory of the case: VmRSS before the model is built (the process's baseline: Python, torch,
timm), the peak (VmHWM, reset just before via /proc/self/clear_refs) over warm-up and timed steps,
VmRSS after warm-up, after half the timed steps and after the last step (growth across steps), and RssFile (file-backed pages:
library code, which torch faults in on first use; pepr subtracts it from the step memory) before and
after. Memory figures need Linux's /proc.

Needs torch and timm (timm only for timm models; a scratch venv: neither is a dependency of pepr or its
tests). Prints one line per case: `arch size train_images_per_s [eval_images_per_s]`, or with --json one
JSON object per case (what `pepr bench train --compare` reads).
"""
import argparse
import json
import sys
import time

import torch
from torch import nn


def lenet5(size, classes=10):
    """pepr_lenet5 (src/catalog/families/small.rs): LeNet-5 with ReLU and a padded first conv."""
    flat = 16 * (((size // 2) - 4) // 2) ** 2
    return nn.Sequential(
        nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, classes))


class BasicBlock(nn.Module):
    """He et al.'s basic block; shape-changing shortcuts are 1x1 conv + BN (option B), as in pepr."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


def cifar_resnet(blocks_per_stage, classes=10):
    """pepr_resnet8 / pepr_resnet20: 16-channel stem, stages at 16, 32, 64 channels, avg pool, linear."""
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate([16, 32, 64]):
        for index in range(blocks_per_stage):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and index == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


# pepr's own nets (catalog entries named pepr_*), by name: size -> model.
OWN = {
    "pepr_lenet5": lenet5,
    "pepr_resnet8": lambda size: cifar_resnet(1),
    "pepr_resnet20": lambda size: cifar_resnet(3),
}


def create(arch, size):
    if arch in OWN:
        return OWN[arch](size)
    import timm
    return timm.create_model(arch, pretrained=False, num_classes=10, in_chans=3)


def status_kb(field):
    """A kB field of /proc/self/status in bytes, or None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak():
    """Resets VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(arch, size, batch, steps, warmup, evaluate):
    torch.manual_seed(0)
    if arch not in OWN:
        import timm  # noqa: F401  (imported before the baseline: part of the process, not the step)
    reset = reset_peak()
    base, file_base = status_kb("VmRSS"), status_kb("RssFile")
    model = create(arch, size)
    images = torch.randn(batch, 3, size, size)
    labels = torch.arange(batch) % 10
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()
    seconds = 0.0
    after_warmup = after_mid = None
    for step in range(warmup + steps):
        if step == warmup:
            after_warmup = status_kb("VmRSS")
            cpu0, wall0 = time.process_time(), time.perf_counter()
        if steps >= 2 and step == warmup + steps // 2:
            after_mid = status_kb("VmRSS")
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.item()
        loss.backward()
        opt.step()
        if step >= warmup:
            seconds += time.perf_counter() - start
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    memory = {"base": base, "peak": status_kb("VmHWM"), "after_warmup": after_warmup,
              "after_last": status_kb("VmRSS"), "file_base": file_base, "file_end": status_kb("RssFile")}
    if after_mid is not None:
        memory["after_mid"] = after_mid
    row = {"arch": arch, "size": size, "batch": batch, "steps": steps,
           "train_images_per_s": steps * batch / seconds,
           "params": sum(p.numel() for p in model.parameters()),
           "cpu_s": cpu, "wall_s": wall,
           "memory": memory if reset and None not in memory.values() else None}
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
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    for arch in a.models:
        for size in a.sizes:
            try:
                row = measure(arch, size, a.batch, a.steps, a.warmup, a.eval)
            except Exception as e:  # a model too deep for the size: say so, keep going
                message = (str(e).splitlines() or [type(e).__name__])[0]
                if a.json:
                    print(json.dumps({"arch": arch, "size": size, "error": message}), flush=True)
                else:
                    print(f"{arch} {size} error {message}", flush=True)
                continue
            if a.json:
                print(json.dumps(row), flush=True)
            else:
                extra = f" {row['eval_images_per_s']:.1f}" if a.eval else ""
                print(f"{arch} {size} {row['train_images_per_s']:.1f}{extra}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
