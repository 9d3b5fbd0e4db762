#!/usr/bin/env python3
"""Parity of our ONNX export with Hugging Face's own PaliGemma 2 (issues 10 and 15; docs/fidelity.md).

For a machine with torch + transformers (the lent GPU machine: Python 3.12, torch 2.11/CUDA 13, transformers
5.17, onnx, onnxruntime 1.30 CPU). Nothing is downloaded. From the repository root:

    python3 tools/hf_parity.py                 # tiny model, every setting, then the full-size 3B/896 one
    python3 tools/hf_parity.py --skip-full     # tiny model only (~1 min)
    python3 tools/hf_parity.py --selftest      # the numpy-only parts (batch building, comparisons); no HF

What it does, per model:
  1. builds a random PaliGemma 2 with HF's own classes (PaliGemmaConfig + Gemma2 text config + SigLIP vision
     config -> PaliGemmaForConditionalGeneration) and save_pretrained()s it with the toy Gemma-layout tokenizer
     (models/test-checkpoint/224): "tiny" = Gemma 2 with 4 layers and a sliding window of 64 (it bites: the
     prompt is 4,096 image tokens + text), soft-caps 50/30, SigLIP at 896 px with 2 layers; "full" = the
     3B/896 dimensions (26 layers, width 2304, window 4096, SigLIP So400m 27 layers);
  2. exports it with tools/export_paligemma2.py (--logits all) in each setting: float32 and float16, each with
     --sliding-window hf and none (full size: float16/hf and float32/hf only, to fit the device budget);
  3. runs our graphs with onnxruntime (CPU provider: the machine's onnxruntime has no CUDA) through a decode
     loop like the engine's (left padding, attention_mask, cumulative 1-based positions, KV cache), and HF
     eager float32 on CUDA (CPU if none); for --sliding-window none the HF side is the same weights with the
     window set past the sequence length, i.e. what big_vision's global attention computes;
  4. compares image features (max abs diff), prefill logits (max abs diff, top-1 agreement) over every
     position at batch 1 and over each row's last prefill position at batch 3 (there HF's positions come from
     generate(), whose first-step logits are compared), greedy ids for 64 steps at batch 1 and at batch 3 (left-padded, three prompt lengths),
     and prints one Markdown table (also written to --out). Exit 1 if a row is beyond its tolerance.

Tolerances (TOL below): float32 graphs must equal HF to rounding: features <= 1e-3, logits <= 2e-2 abs
(logits are soft-capped to +-30), top-1 agreement >= 99.9 %, greedy ids identical, except that a divergence
is accepted where HF's own top-1/top-2 margin at that step is < 1e-3 (a tie, either order is right).
float16 graphs: features <= 0.1, logits <= 0.5, top-1 >= 98 %, ids identical up to a step whose HF margin is
< 0.05 (float16 rounding of a 2304-wide residual stream moves logits by ~1e-2; a smaller HF margin is a
coin toss, a larger one is a bug). Pixel preprocessing is not compared here (both sides get the same
pixel_values): Pillow parity of the C# resampler is tests/Inference.Tests/PillowParityTests.

Not covered: the C# engine itself (no .NET on that machine; its decode loop equals the one here on the
toy checkpoints: tests/Inference.Tests/GoldenParityTests, SlidingWindowTests) and ONNX Runtime's CUDA
provider (bench/gpu). Exit codes: 0 all within tolerance, 1 mismatch, 2 usage, 3 transformers (or torch,
onnx, onnxruntime) missing.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

try:
    import numpy as np
except ImportError:  # reported with the other missing packages (exit 3)
    np = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOY = os.path.join(ROOT, "models", "test-checkpoint", "224")

# What this was written against (transformers 5.x: hf.model = PaliGemmaModel, hf.lm_head, `dtype=`); 4.52+
# has the same module layout. Outside the range it still runs and says so in the table's header.
SUPPORTED = {"transformers": ((4, 52), (6, 0)), "torch": ((2, 1), (3, 0))}
TOL = {
    "float32": {"features": 1e-3, "logits": 2e-2, "top1": 0.999, "tie": 1e-3},
    "float16": {"features": 0.1, "logits": 0.5, "top1": 0.98, "tie": 0.05},
}
PAD, EOS, BOS, NEWLINE = 0, 1, 2, 108
PROMPTS = ("caption en", "describe the table in detail", "ocr")


def log(msg: str) -> None:
    print(f"[parity {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def version_of(name: str) -> Optional[str]:
    try:
        return importlib.import_module(name).__version__
    except ImportError:
        return None


def in_range(version: str, lo: Tuple[int, int], hi: Tuple[int, int]) -> bool:
    parts = []
    for p in version.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    v = tuple(parts + [0] * (2 - len(parts)))
    return lo <= v < hi


# --------------------------------------------------------------------------------------------------
# Model specs
# --------------------------------------------------------------------------------------------------

def spec(kind: str, vocab: int, image_token: int) -> dict:
    if kind == "tiny":
        text = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=32, sliding_window=64)
        vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
        settings = [("float32", "hf"), ("float32", "none"), ("float16", "hf"), ("float16", "none")]
        init = 0.2  # wider than HF's 0.02 so that greedy margins are not all near-ties
    else:
        text = dict(hidden_size=2304, intermediate_size=9216, num_hidden_layers=26, num_attention_heads=8,
                    num_key_value_heads=4, head_dim=256, sliding_window=4096)
        vision = dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16)
        settings = [("float16", "hf"), ("float32", "hf")]
        init = 0.02
    return {"kind": kind, "text": text, "vision": vision, "image_size": 896, "vocab": vocab,
            "image_token": image_token, "settings": settings, "init": init}


def hf_config(s: dict, window: int):
    from transformers import PaliGemmaConfig
    t = s["text"]
    text = dict(model_type="gemma2", vocab_size=s["vocab"], query_pre_attn_scalar=t["head_dim"],
                attn_logit_softcapping=50.0, final_logit_softcapping=30.0, hidden_activation="gelu_pytorch_tanh",
                rms_norm_eps=1e-6, max_position_embeddings=8192, initializer_range=s["init"],
                pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS,
                **{k: v for k, v in t.items() if k != "sliding_window"}, sliding_window=window)
    vision = dict(model_type="siglip_vision_model", patch_size=14, image_size=s["image_size"],
                  projection_dim=t["hidden_size"], vision_use_head=False, **s["vision"])
    return PaliGemmaConfig(vision_config=vision, text_config=text, image_token_index=s["image_token"],
                           # 2048 as in google/paligemma2-*'s config.json: the image features must be scaled by
                           # the text width, not by this field (the features row would show it).
                           projection_dim=t["hidden_size"], hidden_size=2048, vocab_size=s["vocab"],
                           pad_token_id=PAD, eos_token_id=EOS, bos_token_id=BOS)


def dtype_kwargs(torch_dtype) -> dict:
    import transformers
    major = int(transformers.__version__.split(".")[0])
    return {"dtype": torch_dtype} if major >= 5 else {"torch_dtype": torch_dtype}


# --------------------------------------------------------------------------------------------------
# Inputs (numpy only; shared by --selftest)
# --------------------------------------------------------------------------------------------------

def prompt_ids(prefix_ids: Sequence[int], n_image: int, image_token: int) -> List[int]:
    return [image_token] * n_image + [BOS] + list(prefix_ids) + [NEWLINE]


def left_pad(prompts: Sequence[Sequence[int]]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids, attention_mask, position_ids as the engine builds them: left padding with PAD, positions
    1..n over the real tokens (1 on the padding, which is never attended)."""
    width = max(len(p) for p in prompts)
    ids = np.full((len(prompts), width), PAD, dtype=np.int64)
    mask = np.zeros((len(prompts), width), dtype=np.int64)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = p
        mask[i, width - len(p):] = 1
    pos = np.maximum(np.cumsum(mask, 1), 1).astype(np.int64)
    pos = np.where(mask > 0, pos, 1)
    return ids, mask, pos


def cut_at_eos(ids: Sequence[int]) -> List[int]:
    out = []
    for t in ids:
        out.append(int(t))
        if t == EOS:
            break
    return out


def compare_logits(ours: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> Tuple[float, float]:
    """Max abs diff and top-1 agreement over the positions where mask is 1."""
    keep = mask.astype(bool)
    a, b = ours[keep], ref[keep]
    return float(np.max(np.abs(a - b))), float(np.mean(np.argmax(a, -1) == np.argmax(b, -1)))


def compare_ids(ours: Sequence[int], ref: Sequence[int], margins: Sequence[float], tie: float) -> Tuple[bool, str]:
    """Equal, or the first divergence is at a step where the reference's top-1/top-2 margin is below `tie`."""
    ours, ref = cut_at_eos(ours), cut_at_eos(ref)
    if ours == ref:
        return True, f"equal ({len(ref)} ids)"
    step = next((i for i, (x, y) in enumerate(zip(ours, ref)) if x != y), min(len(ours), len(ref)))
    margin = margins[step] if step < len(margins) else float("inf")
    ok = margin < tie
    return ok, f"diverge at step {step} (HF margin {margin:.2g}{' < tie ' + str(tie) if ok else ''})"


def selftest() -> int:
    ids, mask, pos = left_pad([[5, 6, 7], [8]])
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]] and mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert pos.tolist() == [[1, 2, 3], [1, 1, 1]]
    assert cut_at_eos([4, 1, 9]) == [4, 1]
    assert compare_ids([3, 4, 1, 7], [3, 4, 1, 8], [1, 1, 1, 1], 0.1)[0]
    assert not compare_ids([3, 5], [3, 4], [1.0, 1.0], 0.1)[0]
    assert compare_ids([3, 5], [3, 4], [1.0, 0.01], 0.1)[0]
    d, agree = compare_logits(np.array([[[0, 1.0], [2, 0]]]), np.array([[[0, 1.5], [0, 3]]]), np.array([[1, 1]]))
    assert d == 3.0 and agree == 0.5
    assert in_range("5.17.0", (4, 52), (6, 0)) and not in_range("4.51.3", (4, 52), (6, 0))
    print("selftest: batch building and comparison helpers OK (no model, no transformers: not a parity result)")
    return 0


# --------------------------------------------------------------------------------------------------
# Our graphs with onnxruntime
# --------------------------------------------------------------------------------------------------

class OrtModel:
    def __init__(self, ckpt: str):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        prov = ["CPUExecutionProvider"]
        self.vision = ort.InferenceSession(os.path.join(ckpt, "vision_encoder.onnx"), so, providers=prov)
        self.embed = ort.InferenceSession(os.path.join(ckpt, "embed_tokens.onnx"), so, providers=prov)
        self.decoder = ort.InferenceSession(os.path.join(ckpt, "decoder_model_merged.onnx"), so, providers=prov)
        self.past_names = [i.name for i in self.decoder.get_inputs() if i.name.startswith("past_key_values.")]
        first = next(i for i in self.decoder.get_inputs() if i.name.startswith("past_key_values."))
        self.kv_heads, self.head_dim = first.shape[1], first.shape[3]
        self.float_type = np.float16 if "float16" in first.type else np.float32
        self.pixel_type = np.float16 if "float16" in self.vision.get_inputs()[0].type else np.float32

    def features(self, pixels: np.ndarray) -> np.ndarray:
        return self.vision.run(None, {"pixel_values": pixels.astype(self.pixel_type)})[0].astype(np.float32)

    def generate(self, pixels: np.ndarray, prompts: Sequence[Sequence[int]], image_token: int, steps: int):
        """Returns (image features, prefill logits [B,S,V], attention_mask [B,S], greedy ids per row)."""
        ids, mask, pos = left_pad(prompts)
        feats = self.features(pixels)
        emb = self.embed.run(None, {"input_ids": ids})[0].astype(self.float_type)
        for b in range(ids.shape[0]):
            rows = np.nonzero(ids[b] == image_token)[0]
            emb[b, rows] = feats[b].astype(self.float_type)
        past = {n: np.zeros((ids.shape[0], self.kv_heads, 0, self.head_dim), dtype=self.float_type)
                for n in self.past_names}
        out = self.decoder.run(None, dict(inputs_embeds=emb, attention_mask=mask, position_ids=pos, **past))
        prefill = out[0].astype(np.float32)
        names = [o.name for o in self.decoder.get_outputs()]
        done = np.zeros(ids.shape[0], dtype=bool)
        gen: List[List[int]] = [[] for _ in range(ids.shape[0])]
        logits, last = prefill[:, -1], pos[:, -1:]
        for _ in range(steps):
            nxt = np.argmax(logits, -1)
            for b in range(ids.shape[0]):
                if not done[b]:
                    gen[b].append(int(nxt[b]))
                    done[b] = nxt[b] == EOS
            if done.all():
                break
            feed = np.where(done, PAD, nxt).reshape(-1, 1).astype(np.int64)
            past = {n.replace("present.", "past_key_values."): v for n, v in zip(names[1:], out[1:])}
            mask = np.concatenate([mask, np.ones((ids.shape[0], 1), dtype=np.int64)], 1)
            last = last + 1
            e = self.embed.run(None, {"input_ids": feed})[0].astype(self.float_type)
            out = self.decoder.run(None, dict(inputs_embeds=e, attention_mask=mask, position_ids=last, **past))
            logits = out[0][:, -1].astype(np.float32)
        return feats, prefill, left_pad(prompts)[1], gen


# --------------------------------------------------------------------------------------------------
# HF side
# --------------------------------------------------------------------------------------------------

def hf_image_features(torch, model, pv):
    out = model.get_image_features(pv) if hasattr(model, "get_image_features") else None
    if out is not None and not isinstance(out, torch.Tensor):
        out = getattr(out, "pooler_output", None) if getattr(out, "pooler_output", None) is not None else out[0]
    return out


def hf_run(torch, model, device, pixels: np.ndarray, prompts, steps: int):
    ids, mask, _ = left_pad(prompts)
    t_ids = torch.tensor(ids, device=device)
    t_mask = torch.tensor(mask, device=device)
    pv = torch.tensor(pixels, device=device, dtype=torch.float32)
    inputs = dict(input_ids=t_ids, pixel_values=pv, attention_mask=t_mask,
                  token_type_ids=torch.zeros_like(t_ids))  # the whole prompt is prefix (PaliGemmaProcessor)
    with torch.inference_mode():
        feats = hf_image_features(torch, model, pv)
        g = model.generate(**inputs, max_new_tokens=steps, do_sample=False, num_beams=1, pad_token_id=PAD,
                           eos_token_id=EOS, output_scores=True, output_logits=True, return_dict_in_generate=True)
        if ids.shape[0] == 1:
            # No padding: a plain forward gives every prefill position (PaliGemma numbers them from 1 itself).
            logits = model(**inputs).logits.float().cpu().numpy()
        else:
            # Left padding: positions are whatever generate() derives from the mask, so compare what it
            # computed: the prefill's last position (first step's logits) of every row.
            logits = g.logits[0].float().cpu().numpy()[:, None, :]
            mask = np.ones((ids.shape[0], 1), dtype=np.int64)
    new = g.sequences[:, ids.shape[1]:].cpu().numpy()
    margins = []
    for b in range(ids.shape[0]):
        row = []
        for sc in g.scores:
            top = torch.topk(sc[b].float(), 2).values
            row.append(float(top[0] - top[1]))
        margins.append(row)
    return (feats.float().cpu().numpy() if feats is not None else None, logits, mask,
            [cut_at_eos(r.tolist()) for r in new], margins)


# --------------------------------------------------------------------------------------------------
# One model
# --------------------------------------------------------------------------------------------------

def run_model(kind: str, args, torch, device: str, rows: List[dict]) -> None:
    import sentencepiece as spm
    from transformers import PaliGemmaForConditionalGeneration

    sp = spm.SentencePieceProcessor(model_file=os.path.join(TOY, "tokenizer.model"))
    toy_vocab = sp.get_piece_size()
    vocab, image_token = (((toy_vocab + 63) // 64) * 64, toy_vocab - 1) if kind == "tiny" else (257216, 257152)
    s = spec(kind, vocab, image_token)
    n_img = (s["image_size"] // 14) ** 2
    steps = args.steps if kind == "tiny" else args.full_steps
    work = os.path.join(args.work, kind)
    hf_dir = os.path.join(work, "hf")
    t0 = time.time()
    torch.manual_seed(args.seed)
    config = hf_config(s, s["text"]["sliding_window"])
    with torch.device(device):  # 3B random init on the CPU takes minutes
        model = PaliGemmaForConditionalGeneration(config).eval()
    if os.path.isdir(hf_dir):
        shutil.rmtree(hf_dir)
    model.save_pretrained(hf_dir, safe_serialization=True)
    for f in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(TOY, f), os.path.join(hf_dir, f))
    log(f"{kind}: built and saved in {time.time() - t0:.1f}s ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M)")

    # HF references, float32 eager: windowed (the config's window) and window past the sequence (global).
    del model
    hf = {}
    for setting in sorted({w for _, w in s["settings"]}):
        m = PaliGemmaForConditionalGeneration.from_pretrained(hf_dir, local_files_only=True, attn_implementation="eager",
                                                              **dtype_kwargs(torch.float32))
        if setting == "none":
            m.config.text_config.sliding_window = 1 << 20
            for mod in m.modules():  # layers copy the window at construction in some versions
                if hasattr(mod, "sliding_window") and isinstance(getattr(mod, "sliding_window"), int):
                    mod.sliding_window = 1 << 20
        hf[setting] = m.to(device).eval()

    rng = np.random.default_rng(args.seed)
    pixels = (rng.random((3, 3, s["image_size"], s["image_size"])) * 2 - 1).astype(np.float32)
    prompts = [prompt_ids(sp.encode(p), n_img, image_token) for p in PROMPTS]
    batches = {"b1": (pixels[:1], prompts[:1]), "b3": (pixels, prompts)}
    if kind == "full" and not args.full_batch3:
        batches.pop("b3")
    refs = {}
    for setting, m in hf.items():
        for bname, (pv, pr) in batches.items():
            t0 = time.time()
            refs[(setting, bname)] = hf_run(torch, m, device, pv, pr, steps)
            log(f"{kind}: HF {setting} {bname} in {time.time() - t0:.1f}s")
    if ("hf", "b1") in refs and ("none", "b1") in refs:
        # The window must change HF's own output, or the hf/none rows below prove nothing about it.
        differ = cut_at_eos(refs[("hf", "b1")][3][0]) != cut_at_eos(refs[("none", "b1")][3][0])
        rows.append({"model": kind, "dtype": "HF float32", "window": "hf vs none", "batch": "b1",
                     "stage": "HF greedy ids with vs without the window", "value": "differ" if differ else "same",
                     "ok": differ})
    hf.clear()
    if device == "cuda":
        torch.cuda.empty_cache()

    for dtype, setting in s["settings"]:
        out = os.path.join(work, f"onnx-{dtype}-{setting}")
        cmd = [sys.executable, os.path.join(ROOT, "tools", "export_paligemma2.py"), "--model", hf_dir, "--out", out,
               "--task", "test", "--name", f"{kind}-{dtype}-{setting}", "--version", "0", "--dtype", dtype,
               "--sliding-window", setting, "--logits", "all", "--device", device, "--force"]
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            rows.append({"model": kind, "dtype": dtype, "window": setting, "batch": "-", "stage": "export",
                         "value": proc.stderr.strip().splitlines()[-1][:120] if proc.stderr.strip() else "failed",
                         "ok": False})
            continue
        log(f"{kind}: export {dtype}/{setting} in {time.time() - t0:.1f}s")
        tol = TOL[dtype]
        try:
            ours = OrtModel(out)
        except Exception as e:  # noqa: BLE001  (an ORT CPU kernel missing for float16 is a result, not a crash)
            rows.append({"model": kind, "dtype": dtype, "window": setting, "batch": "-", "stage": "onnxruntime load",
                         "value": str(e).splitlines()[0][:120], "ok": False})
            continue
        for bname, (pv, pr) in batches.items():
            t0 = time.time()
            f_hf, l_hf, mask, ids_hf, margins = refs[(setting, bname)]
            try:
                f_o, l_o, _, ids_o = ours.generate(pv, pr, image_token, steps)
            except Exception as e:  # noqa: BLE001
                rows.append({"model": kind, "dtype": dtype, "window": setting, "batch": bname, "stage": "onnxruntime run",
                             "value": str(e).splitlines()[0][:120], "ok": False})
                continue
            base = {"model": kind, "dtype": dtype, "window": setting, "batch": bname}
            if f_hf is not None:
                d = float(np.max(np.abs(f_o - f_hf)))
                rows.append(dict(base, stage="image features max|d|", value=f"{d:.3g} (scale {np.max(np.abs(f_hf)):.3g})",
                                 ok=d <= tol["features"]))
            if l_hf.shape[1] == 1:
                l_o = l_o[:, -1:]
            where = "all prefill positions" if l_hf.shape[1] > 1 else "last prefill position"
            d, agree = compare_logits(l_o, l_hf, mask)
            rows.append(dict(base, stage=f"logits max|d|, {where}", value=f"{d:.3g}", ok=d <= tol["logits"]))
            rows.append(dict(base, stage=f"top-1 agreement, {where}", value=f"{agree * 100:.2f} %", ok=agree >= tol["top1"]))
            for b in range(len(pr)):
                ok, what = compare_ids(ids_o[b], ids_hf[b], margins[b], tol["tie"])
                rows.append(dict(base, stage=f"greedy ids row {b} ({len(pr[b]) - n_img} text tokens)", value=what, ok=ok))
            log(f"{kind}: ours {dtype}/{setting} {bname} in {time.time() - t0:.1f}s")
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)


def table(rows: List[dict], header: str) -> str:
    lines = [header, "", "| model | graph dtype | window | batch | stage | value | within tolerance |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['dtype']} | {r['window']} | {r['batch']} | {r['stage']} | {r['value']} | "
                     f"{'yes' if r['ok'] else '**NO**'} |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "gpu", "work", "parity"))
    ap.add_argument("--out", default=None, help="also write the table here (Markdown)")
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--full-steps", type=int, default=8,
                    help="greedy steps on the full-size model (ours runs on ONNX Runtime's CPU provider: ~1-2 s a step)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-full", action="store_true", help="tiny model only")
    ap.add_argument("--only-full", action="store_true", help="full-size model only")
    ap.add_argument("--full-batch3", action="store_true", help="also batch 3 on the full-size model (slow on ORT CPU)")
    ap.add_argument("--keep", action="store_true", help="keep the exported graphs under --work")
    ap.add_argument("--selftest", action="store_true", help="check the numpy-only helpers and exit")
    args = ap.parse_args(argv)
    if args.selftest:
        return selftest()

    found = {n: version_of(n) for n in ("numpy", "torch", "transformers", "onnx", "onnxruntime", "sentencepiece")}
    print("| package | supported | found |\n|---|---|---|")
    for n, v in found.items():
        rng = SUPPORTED.get(n)
        sup = f">= {rng[0][0]}.{rng[0][1]}, < {rng[1][0]}.{rng[1][1]}" if rng else "any"
        print(f"| {n} | {sup} | {v or 'not installed'} |")
    missing = [n for n, v in found.items() if v is None]
    if missing:
        print(f"\nstopping: {', '.join(missing)} not installed; this check needs HF transformers' own PaliGemma 2 "
              "classes (run it on the GPU machine, see docs/fidelity.md).")
        return 3
    for n, (lo, hi) in SUPPORTED.items():
        if not in_range(found[n], lo, hi):
            print(f"\nwarning: {n} {found[n]} is outside the supported range; results are reported anyway.")
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    os.makedirs(args.work, exist_ok=True)
    rows: List[dict] = []
    kinds = ["full"] if args.only_full else (["tiny"] if args.skip_full else ["tiny", "full"])
    t0 = time.time()
    for kind in kinds:
        try:
            run_model(kind, args, torch, device, rows)
        except Exception as e:  # noqa: BLE001  (first runs against a new transformers: report, keep the table)
            import traceback
            traceback.print_exc()
            rows.append({"model": kind, "dtype": "-", "window": "-", "batch": "-", "stage": "crashed",
                         "value": f"{type(e).__name__}: {str(e).splitlines()[0][:150] if str(e) else ''}", "ok": False})
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    header = (f"HF parity ({time.strftime('%Y-%m-%d')}, HF on {gpu} eager float32, ours on onnxruntime "
              f"{found['onnxruntime']} CPU; transformers {found['transformers']}, torch {found['torch']}; "
              f"{args.steps} greedy steps tiny, {args.full_steps} full; {time.time() - t0:.0f} s)")
    text = table(rows, header)
    print("\n" + text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    bad = [r for r in rows if not r["ok"]]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} rows within tolerance")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
