#!/usr/bin/env python3
"""diag-compare.py GRADS.safetensors DIAG.jsonl [--eps NAME] [--layer L] [--carry C] [--tol X]
   diag-compare.py --gates A.jsonl B.jsonl [--show]

Checks the numbers `gexec diag` / `gexec train --diag` logged against the gradients
`gexec grad` wrote for the same batch and params: every param's gradient norm, the global norm,
and the gradient-through-time profile ||dL/dh_t||, t = 0..T-1, against the per-step norms of
grad.<eps> where the graph adds a zero input eps [B, T, H] to h after the cell (so its gradient
is dL/dh_t). With --gates: the gate statistics of two runs (a fused and a composite cell) agree
(means and spreads to 2e-4, percentiles to 2e-3, saturated fractions to 0.5%). Standard library
only. Exit 0 when all agree within the relative tolerance."""
import json, math, sys

import os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # st_floats beside it
import st_floats  # noqa: E402


def norm(xs):
    return math.sqrt(sum(float(x) * float(x) for x in xs))


def close(a, b, tol):
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-30)


def gates(a, b, show):
    def load(path):
        recs = [json.loads(l) for l in open(path) if l.strip()]
        d = [r for r in recs if r.get("type") == "diag"][0]
        return {(g["layer"], g["probe"]): g for g in d["gates"]}
    ga, gb = load(a), load(b)
    bad = 0
    if set(ga) != set(gb):
        print("BAD probes differ:", sorted(ga), sorted(gb))
        return 1
    tols = {"mean": 2e-4, "std": 2e-4, "p5": 2e-3, "p50": 2e-3, "p95": 2e-3, "saturated": 5e-3}
    for key in sorted(ga):
        x, y = ga[key], gb[key]
        for f, tol in tols.items():
            u, v = x[f], y[f]
            ok = (u is None and v is None) or (u is not None and v is not None and abs(u - v) <= tol)
            bad += not ok
            if show or not ok:
                print(f"{'ok ' if ok else 'BAD'} {key[0]}/{key[1]} {f} {u} {v}")
    print(f"{len(ga)} probes, {bad} mismatches")
    return 1 if bad else 0


def main():
    args = sys.argv[1:]
    if args and args[0] == "--gates":
        return gates(args[1], args[2], "--show" in args)
    opts = {"--eps": "eps", "--layer": None, "--carry": "h", "--tol": "1e-4"}
    pos = []
    i = 0
    while i < len(args):
        if args[i] in opts:
            opts[args[i]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    grads = st_floats.read(pos[0])
    recs = [json.loads(l) for l in open(pos[1]) if l.strip()]
    diag = [r for r in recs if r.get("type") == "diag"][0]
    tol = float(opts["--tol"])
    bad = 0
    total = 0.0
    for p in diag["params"]:
        shape, g = grads["grad." + p["name"]]
        n = norm(g)
        total += n * n
        ok = close(n, p["grad_norm"], tol)
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} grad norm {p['name']:<10} gexec grad {n:.7g}  diag {p['grad_norm']:.7g}")
    ok = close(math.sqrt(total), diag["grad_norm"], tol)
    bad += not ok
    print(f"{'ok ' if ok else 'BAD'} global grad norm    gexec grad {math.sqrt(total):.7g}  diag {diag['grad_norm']:.7g}")
    shape, e = grads["grad." + opts["--eps"]]
    B, T, H = shape
    series = [s for s in diag["grad_time"] if s["carry"] == opts["--carry"] and
              (opts["--layer"] is None or s["layer"] == opts["--layer"])]
    if not series:
        print("BAD no grad_time series for carry", opts["--carry"])
        return 1
    prof = series[0]["norm"]
    if len(prof) != T:
        print(f"BAD grad_time has {len(prof)} steps, grad.{opts['--eps']} has {T}")
        return 1
    for t in range(T):
        n = math.sqrt(sum(float(e[(b * T + t) * H + h]) ** 2 for b in range(B) for h in range(H)))
        ok = close(n, prof[t], tol)
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} ||dL/dh_{t}||  gexec grad {n:.7g}  diag {prof[t]:.7g}")
    print(f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
