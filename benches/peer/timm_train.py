#!/usr/bin/env python3
"""timm + PyTorch peer of `pepr train` on Fashion-MNIST from scratch: the run a timm user would get with
pepr's settings, to compare test accuracy after a few epochs (issue 18: initialisation as timm's).

pepr's settings, reproduced:
- data: Fashion-MNIST's IDX files (`--data`, default /usr/share/datasets/fashion-mnist, where Debian's
  dataset-fashion-mnist puts them); pepr holds out a stratified 10% of the training split as validation
  and keeps a stratified `--fraction` of the rest (seeded; the same sizes as pepr's, not the same images:
  pepr's shuffle is its own SplitMix64), test on the whole 10,000-image test split;
- input: 1 channel at 28 x 28 (the catalog models take Fashion-MNIST's own size), pixels / 255, then
  (x - 0.5) / 0.5;
- model: `timm.create_model(arch, pretrained=False, num_classes=10, in_chans=1)`, seeded by `--seed`
  (timm's own initialisation);
- training: Adam (lr `--lr` 5e-4, torch's defaults otherwise: betas 0.9/0.999, eps 1e-8 as pepr sets), batch
  32, cross-entropy, a new shuffle each epoch, train mode; accuracy on the test split in eval mode after each
  epoch (pepr's P is the last epoch's).

Each epoch line also gives `test_accuracy_biased_bn`: the same evaluation with every batch norm's running
variance times (n - 1) / n, n = values per channel in a full training batch, i.e. what the running variance
would be had it been fed the biased batch variance (as burn's BatchNorm does and pepr did before it kept
PyTorch's unbiased one); it tells how much that difference moves test accuracy. It does not touch the
model or the reported accuracy.

Needs torch, timm and numpy (a scratch venv; none is a dependency of pepr or its tests). Prints one JSON
object per epoch and a last line `arch seed accuracy`.
    python benches/peer/timm_train.py --arch mobilenetv2_050 --fraction 0.2 --epochs 2 --seed 0
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import timm
import torch


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def stratified(labels, fraction, rng):
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rng.shuffle(members)
        keep.extend(members[: max(1, int(round(len(members) * fraction)))])
    return np.sort(np.array(keep))


def tensors(images, labels):
    x = torch.from_numpy(images.astype(np.float32) / 255.0).sub(0.5).div(0.5).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="mobilenetv2_050")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--fraction", type=float, default=0.2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    train_x = idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    train_y = idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
    test_x, test_y = tensors(idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")),
                             idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")))
    # pepr's validation hold-out (10%, stratified), then the fraction of what is left.
    val = stratified(train_y, 0.1, np.random.default_rng(0))
    rest = np.setdiff1d(np.arange(len(train_y)), val)
    keep = rest[stratified(train_y[rest], a.fraction, rng)]
    x, y = tensors(train_x[keep], train_y[keep])

    torch.manual_seed(a.seed)
    model = timm.create_model(a.arch, pretrained=False, num_classes=10, in_chans=1)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-8)
    loss_fn = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(a.seed)
    # Values per channel each batch norm sees in a full training batch (for test_accuracy_biased_bn).
    per_channel = {}

    def record(module, inputs, _output):
        if module.training and inputs[0].shape[0] == a.batch:
            per_channel[module] = inputs[0].numel() // inputs[0].shape[1]

    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.register_forward_hook(record)

    def evaluate():
        correct = 0
        with torch.inference_mode():
            for i in range(0, len(test_y), 256):
                correct += (model(test_x[i: i + 256]).argmax(1) == test_y[i: i + 256]).sum().item()
        return correct / len(test_y)

    accuracy = 0.0
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(y), generator=g)
        loss_sum = 0.0
        for i in range(0, len(y), a.batch):
            idx_b = order[i: i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx_b]), y[idx_b])
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx_b)
        model.eval()
        accuracy = evaluate()
        kept = {m: m.running_var.clone() for m in per_channel}
        for m, n in per_channel.items():
            m.running_var.mul_((n - 1) / n)
        biased = evaluate()
        for m, var in kept.items():
            m.running_var.copy_(var)
        print(json.dumps({"arch": a.arch, "seed": a.seed, "epoch": epoch, "train_images": len(y),
                          "train_loss": loss_sum / len(y), "test_accuracy": accuracy,
                          "test_accuracy_biased_bn": biased,
                          "seconds": time.perf_counter() - start,
                          "versions": f"torch {torch.__version__}, timm {timm.__version__}"}), flush=True)
    print(a.arch, a.seed, accuracy, flush=True)


if __name__ == "__main__":
    main()
