"""Outside reference (not part of the product): SHA-256 of every tensor of a GGUF file, dequantized to f32 by the
Python `gguf` package. tests/gguf.test.ts compares lowbit-tp's dequantizer against the committed JSON.
Usage: python3 scripts/reference/gguf_dequant_hashes.py MODEL.gguf OUT.json"""
import hashlib, json, sys
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

reader = GGUFReader(sys.argv[1])
out = {}
for t in reader.tensors:
    x = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
    out[t.name] = {"type": t.tensor_type.name, "elements": int(x.size), "sha256": hashlib.sha256(x.tobytes()).hexdigest(),
                   "sum": float(x.astype(np.float64).sum())}
json.dump(out, open(sys.argv[2], "w"), indent=0, sort_keys=True)
types = sorted({v["type"] for v in out.values()})
print(f"{len(out)} tensors, types {types}")
