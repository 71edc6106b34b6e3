"""Outside reference (not part of the product): logits of Hugging Face `transformers` (CPU, float32) loading the
same GGUF, on >= 256 tokens of prose from python3.11-doc. Stores, per position, the top-5 ids and logits and the
logits of 128 fixed vocabulary ids, so the fixture stays small. tests/logits.test.ts compares lowbit-tp's TP 1.
Usage: python3 scripts/reference/logits_fixture.py MODEL.gguf OUT.json"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = sys.argv[1]
text = open("/usr/share/doc/python3.11/html/_sources/tutorial/appetite.rst.txt", encoding="utf-8").read()
text = " ".join(text.split("\n\n", 2)[2].split())  # drop the title, join lines into prose
kw = dict(gguf_file=os.path.basename(path))
tok = AutoTokenizer.from_pretrained(os.path.dirname(path), **kw)
model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), torch_dtype=torch.float32, **kw).eval()
ids = tok.encode(text, add_special_tokens=True)[:300]
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].float()
V = logits.shape[1]
probe = [int(i) for i in torch.linspace(0, V - 1, 128).long()]
top = torch.topk(logits, 5, dim=1)
json.dump({"model": os.path.basename(path), "ids": ids, "probe": probe,
           "top_ids": top.indices.tolist(), "top_logits": top.values.tolist(),
           "probe_logits": logits[:, probe].tolist()}, open(sys.argv[2], "w"))
print(len(ids), "tokens, vocab", V)
