"""SentencePiece reference for the tokenizer parity test: reads a JSON list of strings, prints ids and
SentencePiece's own decode of them. Usage: sp_encode.py tokenizer.model corpus.json"""
import json
import sys

import sentencepiece as spm

sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    corpus = json.load(f)
out = []
for text in corpus:
    ids = sp.encode(text)
    out.append({"ids": ids, "decoded": sp.decode(ids)})
extra = [list(range(0, sp.get_piece_size(), 7))]
out_extra = [{"ids": e, "decoded": sp.decode(e)} for e in extra]
sys.stdout.write(json.dumps({"cases": out, "decode_only": out_extra}, ensure_ascii=False))
