"""Outside reference (not part of the product): token ids from Hugging Face `transformers` loading the same GGUF,
for >= 1000 lines of real text from the Debian package python3.11-doc (reStructuredText sources: prose, digits,
indentation runs, unicode) plus a few hand-written edge lines. tests/tokenizer.test.ts compares against it.
Usage: python3 scripts/reference/tokenizer_fixture.py MODEL.gguf OUT.jsonl"""
import json, os, sys, glob
from transformers import AutoTokenizer

SRC = "/usr/share/doc/python3.11/html/_sources"
files = sorted(glob.glob(f"{SRC}/**/*.rst.txt", recursive=True))
lines = []
for f in ["howto/unicode.rst.txt", "library/unicodedata.rst.txt", "library/codecs.rst.txt"]:
    lines += [l.rstrip("\n") for l in open(f"{SRC}/{f}", encoding="utf-8") if l.strip()][:150]
for i, f in enumerate(files[::5]):
    ls = [l.rstrip("\n") for l in open(f, encoding="utf-8") if l.strip()]
    lines += ls[:: max(1, len(ls) // 6)][:6]
lines += ["", " ", "   leading and trailing   ", "tabs\tand\nnewlines\n\n\n", "12345 678.90 1e-7 0x1F",
          "naïve café — 東京 🚀 Ünïcödé ẞ", "<|im_start|>user\nhi<|im_end|>", "<start_of_turn>model\n<end_of_turn>",
          "a" * 300, "don't we'll I'm you're", "😀😃😄 emoji run", "mixed 中文 text with numbers 2024年"]
tok = AutoTokenizer.from_pretrained(os.path.dirname(sys.argv[1]), gguf_file=os.path.basename(sys.argv[1]))
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for l in lines:
        out.write(json.dumps({"text": l, "ids": tok.encode(l, add_special_tokens=False)}, ensure_ascii=False) + "\n")
print(len(lines), "lines")
