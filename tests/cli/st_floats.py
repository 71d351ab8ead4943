"""st_floats.py: the float tensors of a safetensors file, for the test scripts (standard library
only): read(path) -> {name: (shape, array of 'f' or 'd')}; other dtypes and metadata are left out."""
import json, struct
from array import array


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, t in header.items():
        if name == "__metadata__" or t["dtype"] not in ("F32", "F64"):
            continue
        a = array("f" if t["dtype"] == "F32" else "d")
        lo, hi = t["data_offsets"]
        a.frombytes(blob[base + lo:base + hi])
        out[name] = (t["shape"], a)
    return out
