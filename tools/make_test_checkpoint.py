#!/usr/bin/env python3
"""Writes the toy PaliGemma 2 test checkpoints and their PyTorch golden ids (docs/architecture.md section 5, models/test-checkpoint/README.md).

Needs Debian's python3-torch (1.13), python3-onnx, python3-sentencepiece, python3-numpy; no network.
Deterministic (fixed seeds). Run from the repository root:

    /usr/bin/python3 tools/make_test_checkpoint.py [--out models/test-checkpoint]

Writes, under --out:
  224/               batch-capable export (attention_mask input), graphs at the top level
  224-community/     onnx-community style (no attention_mask input), graphs under onnx/
  896/, 896-community/   the same model with 896-px vision (4,096 image tokens)
  224-fp16io/        224/ with float16 graph inputs and outputs (Cast nodes at the boundary)
  224-window/        224/ with a sliding window on the even layer (--window-only W; the committed one is W = 20)
  images/            fixed test images (PNG, already R x R so no resampling is involved)
  golden-224.json, golden-896.json   PyTorch greedy ids (batch 1 and a batch of 3)
  tokenizer-corpus.txt               training text of the toy tokenizer (for reference)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import zlib
import struct

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import paligemma_onnx as po  # noqa: E402

# --------------------------------------------------------------------------------------------------
# Toy sizes
# --------------------------------------------------------------------------------------------------
TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6, rope_theta=10000.0)
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
SP_VOCAB = 900  # trained pieces (specials + bytes + learned); loc/seg/user pieces are added after

# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


class RMSNorm(torch.nn.Module):
    """Gemma RMSNorm: x / rms(x) * (1 + w)."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * (1.0 + self.weight)


def rope(x, pos, theta):
    """x [B,h,S,D], pos [B,S] (float). Rotate-half RoPE as in HF Gemma."""
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    freqs = pos.unsqueeze(-1) * inv  # [B,S,D/2]
    emb = torch.cat([freqs, freqs], -1).unsqueeze(1)  # [B,1,S,D]
    cos, sin = emb.cos(), emb.sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin


class DecoderLayer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, nq, nkv, hd = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.nq, self.nkv, self.hd, self.theta = nq, nkv, hd, c["rope_theta"]
        self.q = torch.nn.Linear(h, nq * hd, bias=False)
        self.k = torch.nn.Linear(h, nkv * hd, bias=False)
        self.v = torch.nn.Linear(h, nkv * hd, bias=False)
        self.o = torch.nn.Linear(nq * hd, h, bias=False)
        self.gate = torch.nn.Linear(h, c["intermediate_size"], bias=False)
        self.up = torch.nn.Linear(h, c["intermediate_size"], bias=False)
        self.down = torch.nn.Linear(c["intermediate_size"], h, bias=False)
        eps = c["rms_norm_eps"]
        self.input_norm, self.post_attn_norm = RMSNorm(h, eps), RMSNorm(h, eps)
        self.pre_ff_norm, self.post_ff_norm = RMSNorm(h, eps), RMSNorm(h, eps)

    def forward(self, x, pos, bias, past_k, past_v):
        b, s, _ = x.shape
        y = self.input_norm(x)
        q = self.q(y).view(b, s, self.nq, self.hd).transpose(1, 2)
        k = self.k(y).view(b, s, self.nkv, self.hd).transpose(1, 2)
        v = self.v(y).view(b, s, self.nkv, self.hd).transpose(1, 2)
        q, k = rope(q, pos, self.theta), rope(k, pos, self.theta)
        k = torch.cat([past_k, k], 2)
        v = torch.cat([past_v, v], 2)
        rep = self.nq // self.nkv
        # GQA: each kv head serves `rep` query heads. expand+flatten rather than repeat_interleave,
        # whose torch 1.13 export freezes the batch size of the dummy input into the graph.
        kk = k.unsqueeze(2).expand(-1, -1, rep, -1, -1).flatten(1, 2)
        vv = v.unsqueeze(2).expand(-1, -1, rep, -1, -1).flatten(1, 2)
        scores = torch.matmul(q, kk.transpose(2, 3)) * (self.hd ** -0.5)
        scores = torch.tanh(scores / 50.0) * 50.0  # attention soft-cap
        scores = scores + bias
        attn = torch.softmax(scores, -1)
        a = torch.matmul(attn, vv).transpose(1, 2).reshape(b, s, self.nq * self.hd)
        x = x + self.post_attn_norm(self.o(a))
        y = self.pre_ff_norm(x)
        x = x + self.post_ff_norm(self.down(gelu_tanh(self.gate(y)) * self.up(y)))
        return x, k, v


class Decoder(torch.nn.Module):
    """Gemma-2-style decoder core with the export signature of paligemma_onnx."""

    def __init__(self, c, embed: torch.nn.Embedding, window=None):
        super().__init__()
        self.c = c
        self.embed = embed  # tied lm_head
        self.layers = torch.nn.ModuleList([DecoderLayer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        # HF Gemma 2: sliding window on even layers (`is_sliding = not bool(layer_idx % 2)`).
        self.window = window

    def sliding_bias(self, past_key, inputs_embeds):
        """Same construction as tools/export_paligemma2.py: key cache index > query index - window."""
        past_ones = torch.ones_like(past_key[0, 0, :, 0], dtype=torch.float32)
        new_ones = torch.ones_like(inputs_embeds[0, :, 0], dtype=torch.float32)
        kpos = torch.cumsum(torch.cat([past_ones, new_ones], 0), 0)
        qpos = torch.cumsum(new_ones, 0) + past_ones.sum()
        allowed = kpos.unsqueeze(0) > (qpos.unsqueeze(1) - float(self.window))
        zero = torch.zeros((), dtype=torch.float32)
        neg = torch.full((), torch.finfo(torch.float32).min, dtype=torch.float32)
        return torch.where(allowed, zero, neg).unsqueeze(0).unsqueeze(0)

    def forward(self, inputs_embeds, attention_mask, position_ids, past):
        x = inputs_embeds * torch.tensor(math.sqrt(self.c["hidden_size"]), dtype=inputs_embeds.dtype)
        bias = po.prefix_lm_bias(attention_mask, past[0][0], inputs_embeds, x.dtype)
        bias_sliding = bias if self.window is None else torch.minimum(bias, self.sliding_bias(past[0][0], inputs_embeds))
        pos = position_ids.to(torch.float32)
        present = []
        for i, (layer, (pk, pv)) in enumerate(zip(self.layers, past)):
            x, k, v = layer(x, pos, bias_sliding if i % 2 == 0 else bias, pk, pv)
            present.append((k, v))
        x = self.norm(x)
        logits = torch.matmul(x, self.embed.weight.t())
        logits = torch.tanh(logits / 30.0) * 30.0  # final soft-cap
        return logits, present


class VisionLayer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.heads = c["num_attention_heads"]
        self.ln1, self.ln2 = torch.nn.LayerNorm(d, eps=1e-6), torch.nn.LayerNorm(d, eps=1e-6)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.o = torch.nn.Linear(d, d)
        self.fc1, self.fc2 = torch.nn.Linear(d, c["intermediate_size"]), torch.nn.Linear(c["intermediate_size"], d)

    def forward(self, x):
        b, n, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.ln1(x)).view(b, n, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        a = torch.softmax(torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5, -1)
        x = x + self.o(torch.matmul(a, v).transpose(1, 2).reshape(b, n, d))
        return x + self.fc2(gelu_tanh(self.fc1(self.ln2(x))))


class Vision(torch.nn.Module):
    """SigLIP-style ViT (patch 14, learned positions, post-LN) + linear projector, / sqrt(text width)."""

    def __init__(self, c, image_size, text_hidden):
        super().__init__()
        d = c["hidden_size"]
        self.patch = torch.nn.Conv2d(3, d, 14, stride=14)
        self.pos = torch.nn.Parameter(torch.zeros((image_size // 14) ** 2, d))
        self.layers = torch.nn.ModuleList([VisionLayer(c) for _ in range(c["num_hidden_layers"])])
        self.post_ln = torch.nn.LayerNorm(d, eps=1e-6)
        self.proj = torch.nn.Linear(d, text_hidden)
        self.text_hidden = text_hidden

    def forward(self, pixel_values):
        x = self.patch(pixel_values).flatten(2).transpose(1, 2) + self.pos
        for layer in self.layers:
            x = layer(x)
        x = self.proj(self.post_ln(x))
        return x / math.sqrt(self.text_hidden)


class Embed(torch.nn.Module):
    def __init__(self, embed):
        super().__init__()
        self.embed = embed

    def forward(self, input_ids):
        return self.embed(input_ids)


def init_weights(vision: Vision, decoder: Decoder, embed: torch.nn.Embedding, real_vocab: int, seed: int):
    """Scaled init so greedy ids vary and top-1/top-2 margins are large (DESIGN section 10): random
    small weights make the argmax echo the last token through the tied embedding."""
    g = torch.Generator().manual_seed(seed)

    def rn(t, std):
        with torch.no_grad():
            t.copy_(torch.randn(t.shape, generator=g) * std)

    rn(embed.weight, 0.3)
    with torch.no_grad():
        embed.weight[real_vocab:] = 0.0  # <image> and the padded rows: never a sensible output
    for layer in decoder.layers:
        for lin in (layer.q, layer.k, layer.v, layer.o, layer.gate, layer.up, layer.down):
            rn(lin.weight, 1.0 / math.sqrt(lin.weight.shape[1]))
        rn(layer.q.weight, 2.5 / math.sqrt(layer.q.weight.shape[1]))
        rn(layer.k.weight, 2.5 / math.sqrt(layer.k.weight.shape[1]))
        for n in (layer.input_norm, layer.pre_ff_norm):
            rn(n.weight, 0.1)
        # Large post-norm gains make each block's output dominate the residual stream.
        for n in (layer.post_attn_norm, layer.post_ff_norm):
            with torch.no_grad():
                n.weight.copy_(30.0 + torch.randn(n.weight.shape, generator=g) * 3.0)
    rn(decoder.norm.weight, 0.1)
    with torch.no_grad():
        decoder.norm.weight.add_(2.0)  # final gain 3: wider logit spread, larger top-1/top-2 gaps
    rn(vision.patch.weight, 1.0 / math.sqrt(3 * 14 * 14))
    rn(vision.patch.bias, 0.1)
    rn(vision.pos, 0.5)
    for layer in vision.layers:
        for lin in (layer.qkv, layer.o, layer.fc1, layer.fc2):
            rn(lin.weight, 1.0 / math.sqrt(lin.weight.shape[1]))
            rn(lin.bias, 0.02)
    rn(vision.proj.weight, 3.0 / math.sqrt(vision.proj.weight.shape[1]))
    rn(vision.proj.bias, 0.1)


# --------------------------------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------------------------------

def training_corpus(seed: int) -> list:
    rnd = random.Random(seed)
    words = ("the heart size is normal lungs are clear no pleural effusion pneumothorax findings impression "
             "stable mild cardiomegaly left right lower lobe opacity table row column total mean value "
             "patient study chest radiograph compared with prior exam there is no acute process").split()
    lines = []
    for _ in range(400):
        lines.append(" ".join(rnd.choice(words) for _ in range(rnd.randint(4, 14))).capitalize() + ".")
    for _ in range(200):
        cells = "".join(f"<td>{rnd.choice(words)} {rnd.randint(0, 999)}</td>" for _ in range(rnd.randint(2, 5)))
        lines.append(f"<table><tr>{cells}</tr></table>")
    atoms = ["C", "c1", "ccc", "(=O)", "O", "N", "[NH3+]", "Cl", "Br", "C(F)(F)F", "c2ccccc2", "S(=O)(=O)", "#N"]
    for _ in range(200):
        lines.append("".join(rnd.choice(atoms) for _ in range(rnd.randint(3, 10))))
    for _ in range(150):
        lines.append("\t".join(rnd.choice(["4c", "8d", "2e", "4.f#", "=", "*^", "**kern", "4r", "8cc", "16B-"])
                               for _ in range(rnd.randint(2, 4))))
    foreign = ["Лёгкие без очаговых изменений", "心脏大小正常", "肺野清晰", "Η καρδιά είναι φυσιολογική",
               "القلب طبيعي الحجم", "Herz normal groß, Lunge frei", "胸部X線写真"]
    for _ in range(100):
        lines.append(" ".join(rnd.choice(foreign) for _ in range(rnd.randint(1, 3))))
    return lines


def build_tokenizer(work: str, seed: int):
    """Trains a SentencePiece BPE model, then reorders its pieces into Gemma's id layout:
    0 pad, 1 eos, 2 bos, 3 unk, 4-107 reserved user pieces, 108 '\\n', newline/space runs, byte pieces,
    learned pieces, 1024 <locNNNN>, 128 <segNNN>, and <image> last (the first id past the text vocab,
    like 257152 in the real model)."""
    import sentencepiece as spm
    lines = training_corpus(seed)
    corpus = os.path.join(work, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    prefix = os.path.join(work, "sp")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="bpe", vocab_size=SP_VOCAB,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", byte_fallback=True, split_digits=True, add_dummy_prefix=False,
        normalization_rule_name="identity", remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
        character_coverage=0.9995, seed_sentencepiece_size=100000, num_threads=1, minloglevel=2,
    )
    with open(prefix + ".model", "rb") as f:
        trained, rest = po.parse_pieces(f.read())
    reserved = ["<mask>", "[@BOS@]"] + [f"<unused{i}>" for i in range(100)] + ["<start_of_turn>", "<end_of_turn>"]
    assert len(reserved) == 104
    ws = ["\n" * n for n in range(2, 32)] + ["▁" * n for n in range(2, 32)]
    user = reserved + ["\n"] + ws
    tail = [f"<loc{i:04d}>" for i in range(1024)] + [f"<seg{i:03d}>" for i in range(128)]
    user_set = set(user) | set(tail) | {"<image>"}
    head = trained[:4]
    assert [p for p, _, _ in head] == ["<pad>", "<eos>", "<bos>", "<unk>"], head
    byte_pieces = [t for t in trained if t[2] == po.BYTE]
    learned = [t for t in trained[4:] if t[2] == po.NORMAL and t[0] not in user_set]
    pieces = list(head)
    pieces += [(p, 0.0, po.USER_DEFINED) for p in user]
    pieces += byte_pieces + learned
    pieces += [(p, 0.0, po.USER_DEFINED) for p in tail]
    pieces.append(("<image>", 0.0, po.USER_DEFINED))
    assert pieces[108][0] == "\n" and pieces[1][0] == "<eos>" and pieces[2][0] == "<bos>"
    model = po.serialize_pieces(pieces, rest)
    sp = spm.SentencePieceProcessor(model_proto=model)
    assert sp.piece_to_id("\n") == 108 and sp.piece_to_id("<image>") == len(pieces) - 1
    return model, pieces, lines


# --------------------------------------------------------------------------------------------------
# Images (PNG writer without PIL)
# --------------------------------------------------------------------------------------------------

def write_png(path: str, rgb: np.ndarray) -> None:
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(tag, data):
        c = struct.pack(">I", len(data)) + tag + data
        return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def make_image(kind: int, size: int, seed: int) -> np.ndarray:
    """Smooth, distinct test pictures (gradients, stripes, blobs) at exactly size x size."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    if kind == 0:
        img = np.stack([x, y, 1 - x * y], -1)
    elif kind == 1:
        img = np.stack([(np.sin(x * 20) + 1) / 2, (np.cos(y * 13) + 1) / 2, x], -1)
    else:
        c = rng.rand(6, 2)
        img = np.zeros((size, size, 3))
        for i in range(6):
            d = np.exp(-((x - c[i, 0]) ** 2 + (y - c[i, 1]) ** 2) * 40)
            img[..., i % 3] += d
        img = np.clip(img, 0, 1)
    return np.round(img * 255).astype(np.uint8)


def pixel_values(rgb: np.ndarray) -> torch.Tensor:
    """[-1, 1] NCHW float32: (x / 255 - 0.5) / 0.5, the SigLIP normalisation."""
    v = (rgb.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
    return torch.from_numpy(v.transpose(2, 0, 1).copy()).unsqueeze(0)


# --------------------------------------------------------------------------------------------------
# Reference decodes
# --------------------------------------------------------------------------------------------------

def empty_past(b, n_layers):
    return [(torch.zeros(b, TEXT["num_key_value_heads"], 0, TEXT["head_dim"]),
             torch.zeros(b, TEXT["num_key_value_heads"], 0, TEXT["head_dim"])) for _ in range(n_layers)]


def window_mask(q_positions, k_positions, window):
    """Explicit sliding-window mask, written from positions: query at position q sees key at position k
    iff k > q - window (keys after q are the bidirectional prefix: visible). 0 or -inf, [1,1,Q,K]."""
    q = torch.tensor(q_positions, dtype=torch.float64).unsqueeze(1)
    k = torch.tensor(k_positions, dtype=torch.float64).unsqueeze(0)
    visible = k > q - window
    return torch.where(visible, torch.tensor(0.0), torch.tensor(float("-inf"))).float().unsqueeze(0).unsqueeze(0)


def reference_decode(vision, embed, decoder, pv, prompt_ids, image_token, limit, max_new, window=None):
    """Independent decode at batch 1: an explicit all-visible mask over the prompt (prefix-LM prefix),
    then one token at a time against the cached keys, positions 1..T. It calls the layers directly,
    so it shares no mask or position code with the exported wrapper or the engine. With a window, the
    even layers get window_mask over the true positions."""
    feats = vision(pv)[0]
    t = torch.tensor([prompt_ids])
    emb = embed(t)[0].clone()
    emb[(t[0] == image_token).nonzero().flatten()] = feats
    kv = TEXT["num_key_value_heads"], TEXT["head_dim"]
    past = [(torch.zeros(1, *kv[:1], 0, kv[1]), torch.zeros(1, *kv[:1], 0, kv[1])) for _ in decoder.layers]
    x = emb.unsqueeze(0)
    pos = torch.arange(1, len(prompt_ids) + 1, dtype=torch.float32).unsqueeze(0)
    out, margins = [], []
    for _ in range(max_new):
        x = x * math.sqrt(TEXT["hidden_size"])
        bias = torch.zeros(1, 1, x.shape[1], past[0][0].shape[2] + x.shape[1])
        n_keys = past[0][0].shape[2] + x.shape[1]
        sliding = bias if window is None else window_mask(pos[0].tolist(), list(range(1, n_keys + 1)), window)
        new_past = []
        for i, (layer, (pk, pv_)) in enumerate(zip(decoder.layers, past)):
            x, k, v = layer(x, pos, sliding if i % 2 == 0 else bias, pk, pv_)
            new_past.append((k, v))
        past = new_past
        logits = torch.tanh(torch.matmul(decoder.norm(x), embed.weight.t()) / 30.0) * 30.0
        row = logits[0, -1, :limit]
        top = torch.topk(row, 2)
        nxt = int(top.indices[0])
        margins.append(float(top.values[0] - top.values[1]))
        out.append(nxt)
        if nxt == 1:
            break
        x = embed(torch.tensor([[nxt]]))
        pos = pos[:, -1:] + 1
    return out, margins


def batched_cached_decode(vision, embed, decoder, pvs, prompts, image_token, limit, max_news):
    """Batch decode the way the engine does it (left padding, mask, cumulative positions, KV cache),
    through the export-signature decoder. Must agree with reference_decode."""
    b = len(prompts)
    L = max(len(p) for p in prompts)
    ids = torch.zeros(b, L, dtype=torch.int64)
    mask = torch.zeros(b, L, dtype=torch.int64)
    for i, p in enumerate(prompts):
        ids[i, L - len(p):] = torch.tensor(p)
        mask[i, L - len(p):] = 1
    emb = embed(ids).clone()
    feats = vision(torch.cat(pvs, 0))
    for i in range(b):
        rows = (ids[i] == image_token).nonzero().flatten()
        emb[i, rows] = feats[i]
    pos = torch.clamp(torch.cumsum(mask, 1), min=1)
    pos = torch.where(mask > 0, pos, torch.ones_like(pos))
    logits, past = decoder(emb, mask, pos, empty_past(b, TEXT["num_hidden_layers"]))
    outs = [[] for _ in range(b)]
    done = [False] * b
    last_pos = pos[:, -1:]
    step_logits = logits[:, -1, :]
    for step in range(max(max_news)):
        nxt = torch.argmax(step_logits[:, :limit], -1)
        for i in range(b):
            if not done[i]:
                outs[i].append(int(nxt[i]))
                if int(nxt[i]) == 1 or len(outs[i]) >= max_news[i]:
                    done[i] = True
        if all(done):
            break
        feed = torch.where(torch.tensor(done), torch.zeros_like(nxt), nxt).unsqueeze(1)
        mask = torch.cat([mask, torch.ones(b, 1, dtype=torch.int64)], 1)
        last_pos = last_pos + 1
        logits, past = decoder(embed(feed), mask, last_pos, past)
        step_logits = logits[:, -1, :]
    return outs


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

PROMPTS = {
    224: ([("caption en", 0, 24)], [("caption en", 1, 12), ("describe the table in detail", 2, 20), ("ocr", 0, 7)]),
    # At 896 px the blob picture (2) drives this toy into repeating one id, so it is not used there.
    896: ([("caption en", 0, 10)], [("caption en", 1, 8), ("describe the table in detail", 1, 10), ("table", 0, 4)]),
}


def toy_modules(size: int, pieces, seed: int, window=None):
    """The toy's modules, rebuilt from the seed (same seed, same weights). Returns (vision, decoder, embed,
    real_vocab, vocab): <image> is the first id past the real_vocab text ids; vocab is padded like HF's 257,216."""
    torch.manual_seed(seed)
    real_vocab = len(pieces) - 1
    vocab = ((len(pieces) + 63) // 64) * 64
    embed = torch.nn.Embedding(vocab, TEXT["hidden_size"])
    decoder = Decoder(TEXT, embed, window)
    vision = Vision(VISION, size, TEXT["hidden_size"])
    init_weights(vision, decoder, embed, real_vocab, seed)
    for m in (vision, decoder, embed):
        m.eval()
    return vision, decoder, embed, real_vocab, vocab


def build(out_root: str, size: int, sp_model: bytes, pieces, seed: int, opset: int, window=None) -> dict:
    vision, decoder, embed, real_vocab, vocab = toy_modules(size, pieces, seed, window)
    image_token = real_vocab

    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_proto=sp_model)
    n_img = (size // 14) ** 2
    img_dir = os.path.join(out_root, "images")
    os.makedirs(img_dir, exist_ok=True)
    images = {}
    for k in range(3):
        name = f"img{k}-{size}.png"
        rgb = make_image(k, size, seed + k)
        write_png(os.path.join(img_dir, name), rgb)
        images[k] = (name, rgb)

    def prompt(prefix):
        return [image_token] * n_img + [2] + sp.encode(prefix) + [108]

    golden = {"resolution": size, "image_token_index": image_token, "vocab_limit": real_vocab,
              "num_image_tokens": n_img, "batch1": [], "batch3": []}
    with torch.no_grad():
        for group, key in ((PROMPTS[size][0], "batch1"), (PROMPTS[size][1], "batch3")):
            pvs, prompts, max_news = [], [], []
            for prefix, img, max_new in group:
                pv = pixel_values(images[img][1])
                ids, margins = reference_decode(vision, embed, decoder, pv, prompt(prefix), image_token,
                                                real_vocab, max_new, window)
                golden[key].append({"image": images[img][0], "prefix": prefix, "max_new_tokens": max_new,
                                    "prompt_suffix_ids": prompt(prefix)[n_img:], "ids": ids,
                                    "min_margin": min(margins), "text": sp.decode(ids)})
                pvs.append(pv)
                prompts.append(prompt(prefix))
                max_news.append(max_new)
            batched = batched_cached_decode(vision, embed, decoder, pvs, prompts, image_token, real_vocab,
                                            max_news)
            for entry, got in zip(golden[key], batched):
                assert got == entry["ids"], f"cached batched decode disagrees: {got} vs {entry['ids']}"
    for key in ("batch1", "batch3"):
        for e in golden[key]:
            assert len(set(e["ids"])) >= max(3, len(e["ids"]) // 3), f"ids do not vary: {e['ids']}"
            assert e["min_margin"] > 0.02, f"top1/top2 margin too small: {e['min_margin']}"

    suffix = "" if window is None else "-window"
    checkpoint = {"task": "test", "name": f"toy-paligemma2-{size}{suffix}", "version": "1.0.0", "resolution": size,
                  "prompt_prefix": "caption en", "max_new_tokens": 32, "post_processor": "none",
                  "image_mode": "resize", "resample": "bicubic",
                  "sliding_window": "none" if window is None else "hf"}
    for style in ("batched",) if window is not None else ("batched", "community"):
        d = os.path.join(out_root, f"{size}{suffix}" if style == "batched" else f"{size}-community")
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        gdir = d if style == "batched" else os.path.join(d, "onnx")
        os.makedirs(gdir, exist_ok=True)
        po.export_vision(vision, os.path.join(gdir, "vision_encoder.onnx"), size, opset)
        po.export_embed(Embed(embed), os.path.join(gdir, "embed_tokens.onnx"), opset)
        po.export_decoder(decoder, os.path.join(gdir, "decoder_model_merged.onnx"),
                          num_layers=TEXT["num_hidden_layers"], num_kv_heads=TEXT["num_key_value_heads"],
                          head_dim=TEXT["head_dim"], hidden=TEXT["hidden_size"], with_mask=style == "batched",
                          opset=opset)
        for g in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
            po.check_onnx(os.path.join(gdir, g + ".onnx"))
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(sp_model)
        po.write_hf_tokenizer(pieces, d)
        po.write_configs(d, text=TEXT, vision=VISION, image_size=size, image_token_index=image_token,
                         vocab_size=vocab, checkpoint=checkpoint)
        if window is not None:
            with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
            config["text_config"]["sliding_window"] = window
            with open(os.path.join(d, "config.json"), "w", encoding="utf-8") as f:
                json.dump(config, f, indent=2)
    with open(os.path.join(out_root, f"golden-{size}{suffix}.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1, ensure_ascii=False)
    return golden


def make_fp16_io_variant(out_root: str, size: int) -> None:
    """`<size>-fp16io/`: the batch-capable export with float16 graph inputs/outputs (see
    paligemma_onnx.cast_io_to_float16), for the engine's float16 paths."""
    src = os.path.join(out_root, str(size))
    dst = os.path.join(out_root, f"{size}-fp16io")
    if os.path.isdir(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    for g in ("vision_encoder", "embed_tokens", "decoder_model_merged"):
        po.cast_io_to_float16(os.path.join(src, g + ".onnx"), os.path.join(dst, g + ".onnx"))


def hf_shaped_toy(seed: int, tokenizer_model: str, size: int = 224):
    """The toy's weights (toy_modules, as build() makes them) with the decoder's modules under the
    names HF's Gemma 2 uses (self_attn.q_proj, mlp, input_layernorm, ...), as export_paligemma2.Gemma2Core
    and calibrate_float16 expect. Returns (vision, embed, text, lm_head, tc)."""
    with open(tokenizer_model, "rb") as f:
        pieces, _ = po.parse_pieces(f.read())
    vision, decoder, embed, real_vocab, vocab = toy_modules(size, pieces, seed)

    class Attn(torch.nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.q_proj, self.k_proj, self.v_proj, self.o_proj = layer.q, layer.k, layer.v, layer.o

    class Mlp(torch.nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.gate_proj, self.up_proj, self.down_proj = layer.gate, layer.up, layer.down

        def forward(self, y):
            return self.down_proj(gelu_tanh(self.gate_proj(y)) * self.up_proj(y))

    class HfLayer(torch.nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.self_attn, self.mlp = Attn(layer), Mlp(layer)
            self.input_layernorm, self.post_attention_layernorm = layer.input_norm, layer.post_attn_norm
            self.pre_feedforward_layernorm, self.post_feedforward_layernorm = layer.pre_ff_norm, layer.post_ff_norm

    class HfText(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_tokens = embed
            self.layers = torch.nn.ModuleList([HfLayer(l) for l in decoder.layers])
            self.norm = decoder.norm

    lm_head = torch.nn.Linear(TEXT["hidden_size"], vocab, bias=False)
    lm_head.weight = embed.weight  # tied, as in PaliGemma 2
    tc = dict(TEXT, query_pre_attn_scalar=TEXT["head_dim"], attn_logit_softcapping=50.0,
              final_logit_softcapping=30.0, sliding_window=None, layer_types=None, vocab_size=vocab)
    return vision, embed, HfText().eval(), lm_head, tc


def export_core_variants(out_root: str, seed: int, opset: int, window: int) -> None:
    """`224-core-hf/` and `224-core-none/`: the 224 toy's weights (rebuilt from the seed) exported by the
    real-checkpoint tool's decoder (tools/export_paligemma2.py Gemma2Core, sliding_layers_of,
    export_environment) with --sliding-window hf (window `window` on the even layer) and none. The toy's
    modules are handed over under the names HF's Gemma 2 uses (self_attn.q_proj, mlp, input_layernorm, ...).
    Vision, embedding and tokenizer files are copied from 224-window/ (same weights). Tests compare the
    engine on these with golden-224-window.json and golden-224.json, which reference_decode wrote with its
    own position-based mask, so the export tool's mask code is checked in both settings."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import export_paligemma2 as ex

    src = os.path.join(out_root, "224-window")
    _, _, text, lm_head, tc = hf_shaped_toy(seed, os.path.join(src, "tokenizer.model"))
    tc = dict(tc, sliding_window=window)
    _, _, _, _, Gemma2Core = ex.build_adapters()
    for setting in ("hf", "none"):
        d = os.path.join(out_root, f"224-core-{setting}")
        if os.path.isdir(d):
            shutil.rmtree(d)
        shutil.copytree(src, d)
        core = Gemma2Core(text, lm_head, tc, window if setting == "hf" else None, ex.sliding_layers_of(tc),
                          "all").eval()
        with torch.no_grad(), ex.export_environment(torch, torch.float32, "cpu"):
            po.export_decoder(core, os.path.join(d, "decoder_model_merged.onnx"),
                              num_layers=TEXT["num_hidden_layers"], num_kv_heads=TEXT["num_key_value_heads"],
                              head_dim=TEXT["head_dim"], hidden=TEXT["hidden_size"], with_mask=True, opset=opset)
        po.check_onnx(os.path.join(d, "decoder_model_merged.onnx"))
        with open(os.path.join(d, "checkpoint.json"), encoding="utf-8") as f:
            checkpoint = json.load(f)
        checkpoint["name"] = f"toy-paligemma2-224-core-{setting}"
        checkpoint["sliding_window"] = setting
        with open(os.path.join(d, "checkpoint.json"), "w", encoding="utf-8") as f:
            json.dump(checkpoint, f, indent=2)
        with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
            config = json.load(f)
        # What export_paligemma2.main records: the window the graph applies (None for 'none').
        config["text_config"]["sliding_window"] = window if setting == "hf" else None
        config["docpipe_export"] = {"source": "toy 224 (make_test_checkpoint.py --core-only)", "dtype": "float32",
                                    "logits": "all", "sliding_window": window if setting == "hf" else None,
                                    "opset": opset, "tool": "tools/export_paligemma2.py Gemma2Core"}
        with open(os.path.join(d, "config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2)
        print(f"wrote {d}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="models/test-checkpoint")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--sizes", default="224,896")
    ap.add_argument("--fp16io-only", action="store_true",
                    help="only derive <out>/224-fp16io from an existing <out>/224")
    ap.add_argument("--window-only", type=int, default=None, metavar="W",
                    help="only write <out>/224-window and golden-224-window.json: the 224 toy (same tokenizer and "
                         "weights) with an HF-style sliding window of W keys on the even layers")
    ap.add_argument("--core-only", type=int, default=None, metavar="W",
                    help="only write <out>/224-core-hf and 224-core-none: the 224 toy's weights exported by "
                         "tools/export_paligemma2.py's decoder with --sliding-window hf (window W) and none")
    args = ap.parse_args()
    if args.core_only:
        torch.set_num_threads(2)
        export_core_variants(args.out, args.seed, args.opset, args.core_only)
        return
    if args.fp16io_only:
        make_fp16_io_variant(args.out, 224)
        return
    if args.window_only:
        torch.set_num_threads(2)
        with open(os.path.join(args.out, "224", "tokenizer.model"), "rb") as f:
            sp_model = f.read()
        pieces, _ = po.parse_pieces(sp_model)
        g = build(args.out, 224, sp_model, pieces, args.seed, args.opset, window=args.window_only)
        for key in ("batch1", "batch3"):
            for e in g[key]:
                print("224-window", key, e["prefix"], e["ids"], f"margin={e['min_margin']:.3f}")
        return
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        sp_model, pieces, lines = build_tokenizer(work, args.seed)
    with open(os.path.join(args.out, "tokenizer-corpus.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    for size in (int(s) for s in args.sizes.split(",")):
        g = build(args.out, size, sp_model, pieces, args.seed, args.opset)
        for key in ("batch1", "batch3"):
            for e in g[key]:
                print(size, key, e["prefix"], e["ids"], f"margin={e['min_margin']:.3f}")
        if size == 224:
            make_fp16_io_variant(args.out, 224)


if __name__ == "__main__":
    main()
