#!/usr/bin/python3
"""Golden reference data for tests/golden/test-golden.c, computed with PyTorch in float64.

Run once, from anywhere, with Debian's Python (python3-torch, python3-numpy):

    /usr/bin/python3 tests/golden/make-golden.py

It rewrites tests/golden/{lstm,gru}-{params,inputs,expected}.safetensors. The output is
deterministic (fixed seeds, CPU, float64, fixed tensor order). The files are committed: the
tests read them and never need torch.

For each cell (nn.LSTM / nn.GRU, one layer, batch_first) followed by nn.Linear(H, C):
    hs, hT[, cT] = rnn(xs, h0[, c0]); logits = linear(hs)
    loss = cross_entropy(logits.reshape(-1, C), targets.reshape(-1))   # mean, ignore_index -100
    loss.backward()
Tensor names are the names of tests/golden/{lstm,gru}.graph. PyTorch keeps its states as
[1, B, H]; gexec's are [B, H]. Weight layouts are PyTorch's (LSTM gates i, f, g, o; GRU r, z, n).
"""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

B, T, I, H, C = 3, 5, 4, 6, 5
HERE = os.path.dirname(os.path.abspath(__file__))

_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.int32: "I32"}


def save_safetensors(path, tensors):
    """A minimal safetensors writer: u64 header length, JSON header padded with spaces to a
    multiple of 8, then the little-endian row-major data, in the order given."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"generator": "tests/golden/make-golden.py",
                              "torch": torch.__version__.split("+")[0]}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make(cell, seed):
    torch.manual_seed(seed)
    is_lstm = cell == "lstm"
    rnn = (nn.LSTM if is_lstm else nn.GRU)(I, H, batch_first=True).double()
    linear = nn.Linear(H, C).double()
    xs = torch.randn(B, T, I, dtype=torch.float64)
    targets = torch.randint(0, C, (B, T), dtype=torch.int64)
    targets[0, 4] = -100  # ignored: PyTorch's default ignore_index
    h0 = torch.randn(B, H, dtype=torch.float64) * 0.5
    c0 = torch.randn(B, H, dtype=torch.float64) * 0.5 if is_lstm else None
    for t in (xs, h0) + ((c0,) if is_lstm else ()):
        t.requires_grad_(True)

    if is_lstm:
        hs, (hT, cT) = rnn(xs, (h0[None], c0[None]))
    else:
        hs, hT = rnn(xs, h0[None])
    logits = linear(hs)
    loss = F.cross_entropy(logits.reshape(-1, C), targets.reshape(-1))
    loss.backward()

    params = [("W_ih", rnn.weight_ih_l0), ("W_hh", rnn.weight_hh_l0),
              ("b_ih", rnn.bias_ih_l0), ("b_hh", rnn.bias_hh_l0),
              ("W_out", linear.weight), ("b_out", linear.bias)]
    inputs = [("xs", xs), ("targets", targets.to(torch.int32)), ("h0", h0)]
    if is_lstm:
        inputs.append(("c0", c0))
    expected = [("hs", hs), ("hT", hT[0])]
    if is_lstm:
        expected.append(("cT", cT[0]))
    expected.append(("loss", loss))  # shape []
    expected += [("grad." + n, p.grad) for n, p in params]
    expected += [("grad." + n, t.grad) for n, t in inputs if t.dtype == torch.float64]

    for suffix, ts in (("params", params), ("inputs", inputs), ("expected", expected)):
        path = os.path.join(HERE, "%s-%s.safetensors" % (cell, suffix))
        save_safetensors(path, ts)
        print(path)
        for n, t in ts:
            print("  %-10s %-6s %-12s max|x| = %.6g" % (
                n, _DTYPES[t.dtype], list(t.shape), t.detach().abs().max().item()))


def main():
    torch.use_deterministic_algorithms(True)
    print("torch", torch.__version__)
    make("lstm", seed=1234)
    make("gru", seed=5678)


if __name__ == "__main__":
    main()
