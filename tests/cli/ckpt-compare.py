#!/usr/bin/env python3
"""ckpt-compare.py A.ckpt B.ckpt [--tol X] [--prefix P ...]

Compares the float tensors of two gexec checkpoints (safetensors) whose names start with one of
the prefixes (default: param. optim. state.): the same names and shapes, and every element within
X (default 1e-5) of the other, relative to the largest magnitude in that tensor (so a tensor of
small values is not held to a looser absolute bound). Prints the worst difference per tensor kind
and exits 1 on any mismatch. Standard library only."""
import sys

import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # st_floats beside it
import st_floats  # noqa: E402


def main():
    args = sys.argv[1:]
    tol, prefixes, files = 1e-5, [], []
    i = 0
    while i < len(args):
        if args[i] == "--tol":
            tol = float(args[i + 1]); i += 2
        elif args[i] == "--prefix":
            prefixes.append(args[i + 1]); i += 2
        else:
            files.append(args[i]); i += 1
    if len(files) != 2:
        sys.exit(__doc__)
    prefixes = prefixes or ["param.", "optim.", "state."]
    a, b = st_floats.read(files[0]), st_floats.read(files[1])
    pick = lambda d: {k for k in d if any(k.startswith(p) for p in prefixes)}
    if pick(a) != pick(b):
        print("different tensors: only in A: %s; only in B: %s"
              % (sorted(pick(a) - pick(b)), sorted(pick(b) - pick(a))))
        return 1
    if not pick(a):
        print("no tensors to compare")
        return 1
    bad, worst = 0, {}
    for k in sorted(pick(a)):
        (sa, xa), (sb, xb) = a[k], b[k]
        if sa != sb:
            print("%s: shape %s against %s" % (k, sa, sb))
            bad += 1
            continue
        scale = max([abs(v) for v in xa] + [abs(v) for v in xb] + [1e-30])
        d = max([abs(p - q) for p, q in zip(xa, xb)] + [0.0]) / scale
        if d != d or d > tol:   # NaN or over the tolerance
            print("%s: differs by %.3g of its largest magnitude (tolerance %g)" % (k, d, tol))
            bad += 1
        kind = k.split(".")[0]
        worst[kind] = max(worst.get(kind, 0.0), d)
    print("compared %d tensors; worst relative difference: %s" % (
        len(pick(a)), ", ".join("%s %.3g" % kv for kv in sorted(worst.items()))))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
