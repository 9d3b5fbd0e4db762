#!/usr/bin/env python3
"""GPU benchmark: our ONNX Runtime engine vs Hugging Face transformers generate() on a full-size
PaliGemma 2 3B at 896 px (random weights), same GPU, same run. See bench/gpu/README.md.

Needs: an NVIDIA GPU, PyTorch with CUDA, transformers with PaliGemma 2 support, onnx, the CUDA 13 + cuDNN 9
libraries (pip wheels are found under site-packages/nvidia/*/lib), and bench/gpu/out/ from publish.sh
(self-contained; no .NET SDK needed). No network. Run from the repository root:

    python3 bench/gpu/run_gpu_bench.py                 # build, export, engine, HF; prints the table

Steps: (1) a PaliGemmaConfig with the 3B/896 dimensions -> random weights (float16) -> save_pretrained,
with the toy checkpoint's Gemma-layout tokenizer (no network for the real one; prompt length differs by a
few tokens only); (2) tools/export_paligemma2.py --dtype float16; (3) EngineBench (published binary) at
each batch size; (4) transformers generate() (greedy, eager attention, min_new_tokens = max_new_tokens so
random weights cannot stop early) at each batch size; (5) a Markdown table, also written with the raw
JSON under bench/gpu/results/.
"""
from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import shutil
import site
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE_TOKEN = 257152


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(cmd: list, **kw) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def gpu_info() -> dict:
    try:
        out = sh(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"]).strip()
        name, mem, driver = [s.strip() for s in out.splitlines()[0].split(",")]
        return {"name": name, "memory": mem, "driver": driver}
    except (OSError, subprocess.CalledProcessError, ValueError):
        return {"name": "unknown", "memory": "?", "driver": "?"}


def cuda_library_path() -> str:
    """site-packages/nvidia/*/lib of the pip CUDA/cuDNN wheels (CUDA 13 wheels: nvidia/cu13/lib), so that
    ONNX Runtime's CUDA provider finds libcudart.so.13, libcublas*.so.13 and libcudnn*.so.9."""
    dirs = []
    roots = list(site.getsitepackages()) + [site.getusersitepackages()]
    for r in roots:
        for pattern in ("nvidia/*/lib", "nvidia/*/lib64", "nvidia/*/*/lib"):
            for d in sorted(glob.glob(os.path.join(r, pattern))):
                if d not in dirs and glob.glob(os.path.join(d, "*.so*")):
                    dirs.append(d)
    for d in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"):
        if os.path.isdir(d):
            dirs.append(d)
    old = os.environ.get("LD_LIBRARY_PATH", "")
    return ":".join(dirs + ([old] if old else []))


# --------------------------------------------------------------------------------------------------
# 1. Random full-size model
# --------------------------------------------------------------------------------------------------

def paligemma2_3b_896_config():
    from transformers import PaliGemmaConfig
    text = dict(model_type="gemma2", hidden_size=2304, intermediate_size=9216, num_hidden_layers=26,
                num_attention_heads=8, num_key_value_heads=4, head_dim=256, vocab_size=257216,
                query_pre_attn_scalar=256, attn_logit_softcapping=50.0, final_logit_softcapping=30.0,
                sliding_window=4096, hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                rope_theta=10000.0, max_position_embeddings=8192, num_image_tokens=4096)
    vision = dict(model_type="siglip_vision_model", hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                  num_attention_heads=16, patch_size=14, image_size=896, num_image_tokens=4096,
                  projection_dim=2304, vision_use_head=False)
    return PaliGemmaConfig(vision_config=vision, text_config=text, image_token_index=IMAGE_TOKEN,
                           projection_dim=2304, hidden_size=2048, vocab_size=257216, bos_token_id=2,
                           eos_token_id=1, pad_token_id=0)


def build_random_model(hf_dir: str, tokenizer_from: str, seed: int) -> None:
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    t0 = time.time()
    torch.manual_seed(seed)
    config = paligemma2_3b_896_config()
    with torch.device("cuda"):
        model = PaliGemmaForConditionalGeneration(config)
    model = model.to(torch.float16).eval()
    n = sum(p.numel() for p in model.parameters())
    log(f"random PaliGemma 2 3B/896: {n / 1e9:.2f} B parameters ({time.time() - t0:.1f}s)")
    os.makedirs(hf_dir, exist_ok=True)
    model.save_pretrained(hf_dir, safe_serialization=True)
    del model
    torch.cuda.empty_cache()
    for f in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tokenizer_from, f), os.path.join(hf_dir, f))
    log(f"saved {hf_dir} ({time.time() - t0:.1f}s)")


# --------------------------------------------------------------------------------------------------
# 3. Our engine
# --------------------------------------------------------------------------------------------------

def run_engine(engine: str, ckpt: str, batches, max_new: int, prompt: str, timeout: int) -> dict:
    env = dict(os.environ, LD_LIBRARY_PATH=cuda_library_path())
    cmd = [engine, ckpt, "--batches", ",".join(map(str, batches)), "--max-new-tokens", str(max_new),
           "--prompt", prompt, "--require-cuda"]
    log("engine: " + " ".join(cmd))
    log("engine LD_LIBRARY_PATH=" + env["LD_LIBRARY_PATH"])
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    sys.stderr.write(proc.stderr[-4000:])
    rows = {}
    loaded = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        print("engine " + line, flush=True)
        if obj.get("event") == "loaded":
            loaded = obj
        elif obj.get("event") == "batch":
            rows[obj["batch"]] = obj
    if proc.returncode != 0:
        log(f"engine exited with {proc.returncode}")
    return {"loaded": loaded, "rows": rows, "rc": proc.returncode}


# --------------------------------------------------------------------------------------------------
# 4. HF transformers generate()
# --------------------------------------------------------------------------------------------------

def prompt_ids(tokenizer_from: str, prefix: str):
    try:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tokenizer_from, "tokenizer.model"))
        text = sp.encode(prefix)
    except ImportError:
        text = [300, 301]
    return [IMAGE_TOKEN] * 4096 + [2] + list(text) + [108]


def run_hf(hf_dir: str, batches, max_new: int, ids, attn: str) -> dict:
    import torch
    from transformers import PaliGemmaForConditionalGeneration
    t0 = time.time()
    model = PaliGemmaForConditionalGeneration.from_pretrained(
        hf_dir, local_files_only=True, torch_dtype=torch.float16, attn_implementation=attn).to("cuda").eval()
    log(f"HF model loaded in {time.time() - t0:.1f}s (transformers, attn={attn})")

    def sync_time(fn):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        return time.perf_counter() - t, out

    def image_features(pv):
        if hasattr(model, "get_image_features"):
            return model.get_image_features(pv)
        inner = model.model if hasattr(model, "model") and hasattr(model.model, "vision_tower") else model
        return inner.multi_modal_projector(inner.vision_tower(pixel_values=pv).last_hidden_state)

    rows = {}
    for b in batches:
        try:
            g = torch.Generator(device="cuda").manual_seed(b)
            pv = (torch.rand(b, 3, 896, 896, generator=g, device="cuda") * 2 - 1).to(torch.float16)
            input_ids = torch.tensor([ids] * b, device="cuda")
            inputs = dict(input_ids=input_ids, pixel_values=pv, attention_mask=torch.ones_like(input_ids),
                          token_type_ids=torch.zeros_like(input_ids))

            def gen(n):
                return model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False, num_beams=1,
                                      use_cache=True, pad_token_id=0, eos_token_id=1)

            with torch.inference_mode():
                gen(4)  # warm-up at this batch size
                enc_s, _ = sync_time(lambda: image_features(pv))
                t1_s, _ = sync_time(lambda: gen(1))
                torch.cuda.reset_peak_memory_stats()
                tn_s, out = sync_time(lambda: gen(max_new))
            new = out.shape[1] - input_ids.shape[1]
            decode_s = max(tn_s - t1_s, 1e-9)
            rows[b] = {
                "batch": b, "image_encode_ms": round(enc_s * 1000, 2),
                "prefill_ms": round(max(t1_s - enc_s, 0) * 1000, 2),
                "decode_tokens_per_s": round(b * (new - 1) / decode_s, 1),
                "generated_tokens": int(b * new), "total_ms": round(tn_s * 1000, 2),
                "pages_per_hour": round(b * 3600 / tn_s, 1),
                "peak_gpu_mem_mib": round(torch.cuda.max_memory_allocated() / 2**20),
                "peak_gpu_mem_reserved_mib": round(torch.cuda.max_memory_reserved() / 2**20),
            }
            print("hf " + json.dumps(rows[b]), flush=True)
        except torch.cuda.OutOfMemoryError as e:
            rows[b] = {"batch": b, "error": "CUDA out of memory: " + str(e).splitlines()[0]}
            print("hf " + json.dumps(rows[b]), flush=True)
        finally:
            torch.cuda.empty_cache()
    return {"rows": rows, "transformers": __import__("transformers").__version__, "torch": torch.__version__}


# --------------------------------------------------------------------------------------------------
# 5. Table
# --------------------------------------------------------------------------------------------------

PEAK_BF16_FLOPS = 790e12  # H200 dense bf16/fp16 tensor-core peak (the device notes' figure)


def prefill_flops(seq: int, batch: int) -> float:
    """Matmul FLOPs of the 3B decoder's prefill over `seq` tokens (what Timings.Prefill covers; vision not
    included): 2 x the 26 layers' projection and MLP weights per token, QK^T and PV over seq^2 per layer,
    and the lm_head on the last position only (--logits last)."""
    hidden, q_width, kv_width, ffn, layers, vocab = 2304, 8 * 256, 4 * 256, 9216, 26, 257216
    per_layer = hidden * q_width * 2 + hidden * kv_width * 2 + 3 * hidden * ffn
    return batch * (2 * layers * per_layer * seq + layers * 4 * seq * seq * q_width + 2 * hidden * vocab)


def mfu(row: dict, seq: int):
    ms = row.get("prefill_ms")
    if not ms or not seq:
        return None
    return 100 * prefill_flops(seq, row["batch"]) / (ms / 1000) / PEAK_BF16_FLOPS


def fmt(v, digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def table(gpu: dict, engine: dict, hf: dict, batches, max_new: int, meta: dict) -> str:
    lines = [
        f"### PaliGemma 2 3B, 896 px (4,096 image tokens), float16, random weights, {max_new} new tokens per page",
        "",
        f"GPU: **{gpu['name']}** ({gpu['memory']}, driver {gpu['driver']}); {meta['date']} UTC; "
        f"torch {hf.get('torch', '?')}, transformers {hf.get('transformers', '?')}; "
        f"engine provider {engine.get('loaded', {}).get('provider', '?')}, checkpoint load "
        f"{engine.get('loaded', {}).get('load_s', '?')} s; export {meta.get('export_s', '?')} s.",
        "",
        "| Runtime | Batch | Image-encode ms | Prefill ms | Decode tokens/s | Pages/hour @ "
        f"{max_new} tok | Peak GPU memory (MiB) | Prefill MFU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in batches:
        for label, rows in (("Engine (ONNX Runtime CUDA)", engine.get("rows", {})),
                            ("HF transformers generate()", hf.get("rows", {}))):
            r = rows.get(b)
            if r is None:
                lines.append(f"| {label} | {b} | not run | | | | | |")
            elif "error" in r:
                lines.append(f"| {label} | {b} | failed: {r['error'][:80]} | | | | | |")
            else:
                pph = fmt(r.get("pages_per_hour"))
                if r.get("pages_per_hour_extrapolated"):
                    pph += " (extrapolated)"
                lines.append(f"| {label} | {b} | {fmt(r.get('image_encode_ms'))} | {fmt(r.get('prefill_ms'))} | "
                             f"{fmt(r.get('decode_tokens_per_s'))} | {pph} | {fmt(r.get('peak_gpu_mem_mib'))} | "
                             f"{fmt(mfu(r, meta.get('prompt_tokens', 0)))} |")
    lines += [
        "",
        "Image-encode: engine = vision graph + prompt-token embedding (Timings.Encode); HF = get_image_features. "
        "Prefill: engine = decoder over the whole prompt; HF = generate(max_new_tokens=1) minus image-encode. "
        "Decode tokens/s: generated tokens after the first / decode time, summed over the batch. "
        "Pages/hour: batch x 3600 / wall time of one batch at the token count above (engine: preprocessing included). "
        "Peak memory: engine = nvidia-smi (" + str(engine.get("rows", {}).get(batches[-1], {}).get("gpu_mem_source", "?"))
        + "; ONNX Runtime's arena keeps what it grew, so later batches include earlier peaks); "
        "HF = torch.cuda.max_memory_allocated during the measured generate(). "
        f"Prefill MFU: decoder matmul FLOPs of the prefill over {meta.get('prompt_tokens', '?')} tokens (prefill_flops) "
        f"/ prefill time / {PEAK_BF16_FLOPS / 1e12:.0f} TFLOP/s.",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "bench", "gpu", "work"),
                    help="scratch folder for the random HF model and the export (~13 GB)")
    ap.add_argument("--batches", default="1,4,16")
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--prompt", default="caption en")
    ap.add_argument("--engine", default=os.path.join(ROOT, "bench", "gpu", "out", "PaliGemma2.DocPipeline.EngineBench"))
    ap.add_argument("--tokenizer-from", default=os.path.join(ROOT, "models", "test-checkpoint", "224"),
                    help="folder with tokenizer.model/json (Gemma id layout); the toy tokenizer by default")
    ap.add_argument("--export-logits", choices=("last", "all"), default="last",
                    help="export tool --logits (default last: [B,1,V]; 'all' returns [B,S,V] at prefill)")
    ap.add_argument("--hf-attn", default="eager", help="attn_implementation for the HF baseline (Gemma 2's "
                    "soft-capping needs eager)")
    ap.add_argument("--reuse", action="store_true", help="keep an existing random model / export in --work")
    ap.add_argument("--skip-engine", action="store_true")
    ap.add_argument("--skip-hf", action="store_true")
    ap.add_argument("--engine-timeout", type=int, default=420)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    batches = [int(x) for x in args.batches.split(",")]
    gpu = gpu_info()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")}
    log(f"GPU: {gpu}")
    hf_dir = os.path.join(args.work, "hf-random-3b-896")
    ckpt = os.path.join(args.work, "ckpt-random-3b-896-fp16")
    if not args.skip_engine and not os.access(args.engine, os.X_OK):
        raise SystemExit(f"error: {args.engine} missing; run bench/gpu/publish.sh on a machine with the .NET SDK "
                         "and copy bench/gpu/out/ here")

    if not (args.reuse and os.path.isfile(os.path.join(hf_dir, "config.json"))):
        build_random_model(hf_dir, args.tokenizer_from, args.seed)
    if not args.skip_engine and not (args.reuse and os.path.isfile(os.path.join(ckpt, "checkpoint.json"))):
        t0 = time.time()
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "export_paligemma2.py"), "--model", hf_dir,
                        "--out", ckpt, "--task", "report", "--name", "bench-random-3b-896",
                        "--version", "0.0.0-random", "--prompt-prefix", args.prompt, "--max-new-tokens",
                        str(args.max_new_tokens), "--dtype", "float16", "--device", "cuda",
                        "--logits", args.export_logits, "--force"], check=True)
        meta["export_s"] = round(time.time() - t0, 1)
        log(f"exported in {meta['export_s']}s")

    engine = {} if args.skip_engine else run_engine(args.engine, ckpt, batches, args.max_new_tokens, args.prompt,
                                                     args.engine_timeout)
    hf = {} if args.skip_hf else run_hf(hf_dir, batches, args.max_new_tokens,
                                        prompt_ids(args.tokenizer_from, args.prompt), args.hf_attn)

    meta["prompt_tokens"] = len(prompt_ids(args.tokenizer_from, args.prompt))
    md = table(gpu, engine, hf, batches, args.max_new_tokens, meta)
    print()
    print(md)
    out_dir = os.path.join(ROOT, "bench", "gpu", "results")
    os.makedirs(out_dir, exist_ok=True)
    stem = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M") + "-" + gpu["name"].replace(" ", "_")
    with open(os.path.join(out_dir, stem + ".md"), "w", encoding="utf-8") as f:
        f.write(md + "\n")
    with open(os.path.join(out_dir, stem + ".json"), "w", encoding="utf-8") as f:
        json.dump({"gpu": gpu, "meta": meta, "engine": engine, "hf": hf, "batches": batches,
                   "max_new_tokens": args.max_new_tokens}, f, indent=1)
    log(f"written bench/gpu/results/{stem}.md and .json")
    return 0 if (args.skip_engine or engine.get("rc") == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
