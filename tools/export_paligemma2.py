#!/usr/bin/env python3
"""Exports a Hugging Face PaliGemma 2 checkpoint into a DocPipeline checkpoint directory (docs/architecture.md section 5).

Input: a local folder holding a `PaliGemmaForConditionalGeneration` checkpoint (for example a fine-tune of
google/paligemma2-3b-pt-896): config.json, *.safetensors, tokenizer files. Nothing is downloaded
(`local_files_only=True`). Needs torch, transformers and onnx (where a user has them); this help text
and the argument checks work without them.

Output (--out):
  vision_encoder.onnx          pixel_values [B,3,R,R] -> image_features [B,N,H], already divided by sqrt(H)
  embed_tokens.onnx            input_ids [B,S] -> inputs_embeds [B,S,H] (raw lookup)
  decoder_model_merged.onnx    inputs_embeds, attention_mask [B,P+S], position_ids [B,S] (1-based),
                               past_key_values.N.key/value [B,KV,P,D] -> logits, present.N.key/value
  *.onnx_data                  weights of a graph over 2 GB (ONNX external data, one file per graph)
  config.json, preprocessor_config.json, tokenizer.model, tokenizer.json, tokenizer_config.json,
  checkpoint.json              task, name, version, resolution, prompt prefix, max new tokens,
                               post-processor, image mode

The graphs are written by the same code as the toy test checkpoint (tools/paligemma_onnx.py:
export_vision, export_embed, export_decoder with DecoderWithMask, prefix_lm_bias, write_configs); this
file only maps the Hugging Face modules onto what those wrappers expect. Register the result with
`docpipe models add <out>`. See docs/export.md.

Example:
  python3 tools/export_paligemma2.py --model ./my-paligemma2-table-896 --out ./ckpt-table-896 \\
      --task table --name table-896 --version 2026.11.1 --prompt-prefix "" --dtype float16
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))

# Task defaults (DESIGN section 5/6, issue 4): they end up in checkpoint.json, not in code paths.
TASK_DEFAULTS = {
    "table": {"max_new_tokens": 4096, "post_processor": "table_html"},
    "molecule": {"max_new_tokens": 256, "post_processor": "smiles"},
    "score": {"max_new_tokens": 1024, "post_processor": "kern"},
    "report": {"max_new_tokens": 512, "post_processor": "report_sections"},
}
# How the fine-tune saw its images and attended (docs/fidelity.md). The defaults are what a checkpoint
# trained with Hugging Face transformers saw: PaliGemmaProcessor stretches with PIL bicubic, and HF's
# Gemma 2 applies the config's sliding window. A big_vision fine-tune: --resample bilinear --sliding-window none.
FIDELITY_DEFAULTS = {"image_mode": "resize", "resample": "bicubic", "sliding_window": "hf"}
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json",
                   # eos_token_id there lists every id HF's generate() stops on; the engine reads it.
                   "generation_config.json")
GRAPHS = ("vision_encoder", "embed_tokens", "decoder_model_merged")


def log(msg: str) -> None:
    print(f"[export {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------------------------------
# Adapters: Hugging Face modules -> the signatures tools/paligemma_onnx.py exports
# --------------------------------------------------------------------------------------------------

def build_adapters():
    """Defines the adapter modules (torch is imported here so that --help works without it)."""
    import torch
    sys.path.insert(0, HERE)
    import paligemma_onnx as po  # noqa: E402  (shared with tools/make_test_checkpoint.py)

    class VisionAdapter(torch.nn.Module):
        """SigLIP tower + linear projector, divided by sqrt(text width) exactly as HF get_image_features
        and the toy Vision do; the decoder's multiply by sqrt(width) restores the scale."""

        def __init__(self, vision_tower, projector, text_hidden: int, dtype):
            super().__init__()
            self.vision_tower = vision_tower
            self.projector = projector
            self.text_hidden = text_hidden
            self.dtype = dtype

        def forward(self, pixel_values):
            x = pixel_values.to(self.dtype)  # no-op when the graph input already has the model's dtype
            out = self.vision_tower(pixel_values=x)
            feats = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
            x = self.projector(feats)
            return x / math.sqrt(self.text_hidden)

    class EmbedAdapter(torch.nn.Module):
        """Raw token lookup (no sqrt(width) scaling; the decoder applies it)."""

        def __init__(self, embed_tokens):
            super().__init__()
            self.weight = embed_tokens.weight

        def forward(self, input_ids):
            return torch.nn.functional.embedding(input_ids, self.weight)

    def rotate_half(x):
        d = x.shape[-1] // 2
        return torch.cat([-x[..., d:], x[..., :d]], -1)

    class Gemma2Core(torch.nn.Module):
        """The `core(inputs_embeds, attention_mask, position_ids, past) -> (logits, present)` that
        paligemma_onnx.DecoderWithMask / DecoderNoMask wrap, computed with the HF Gemma 2 modules' own
        weights and norms (q/k/v/o projections, GeGLU MLP, the four RMSNorms, final norm, lm_head).

        Same math as HF eager attention and as the toy Decoder: inputs_embeds * sqrt(width); RoPE on
        1-based positions; GQA by expand+flatten (batch stays dynamic in the export); attention logits
        scaled by query_pre_attn_scalar**-0.5 and soft-capped (50); softmax in float32; prefix-LM mask
        from paligemma_onnx.prefix_lm_bias; final soft-cap (30) on the logits.
        """

        def __init__(self, text_model, lm_head, tc: Dict[str, Any], sliding_window: Optional[int],
                     sliding_layers: List[bool], logits: str):
            super().__init__()
            self.layers = text_model.layers
            self.norm = text_model.norm
            self.lm_head = lm_head
            self.hidden = tc["hidden_size"]
            self.nq, self.nkv, self.hd = tc["num_attention_heads"], tc["num_key_value_heads"], tc["head_dim"]
            self.scaling = float(tc["query_pre_attn_scalar"]) ** -0.5
            self.attn_cap = tc["attn_logit_softcapping"]
            self.final_cap = tc["final_logit_softcapping"]
            self.theta = tc["rope_theta"]
            self.sliding_window = sliding_window
            self.sliding_layers = sliding_layers
            self.last_only = logits == "last"
            self.norm_eps = float(getattr(self.norm, "eps", getattr(self.norm, "variance_epsilon", tc["rms_norm_eps"])))
            # float32 copy of the head for the logits island (po.final_logits_float32); the same tensor when
            # the model is already float32.
            self.register_buffer("lm_head_f32", lm_head.weight.detach().to(torch.float32), persistent=False)

        def sliding_bias(self, past_key, inputs_embeds):
            """HF's sliding-window mask on alternate layers: key cache index > query index - window."""
            past_ones = torch.ones_like(past_key[0, 0, :, 0], dtype=torch.float32)
            new_ones = torch.ones_like(inputs_embeds[0, :, 0], dtype=torch.float32)
            kpos = torch.cumsum(torch.cat([past_ones, new_ones], 0), 0)
            qpos = torch.cumsum(new_ones, 0) + past_ones.sum()
            allowed = kpos.unsqueeze(0) > (qpos.unsqueeze(1) - float(self.sliding_window))
            zero = torch.zeros((), dtype=torch.float32)
            neg = torch.full((), torch.finfo(torch.float32).min, dtype=torch.float32)
            return torch.where(allowed, zero, neg).unsqueeze(0).unsqueeze(0)

        def forward(self, inputs_embeds, attention_mask, position_ids, past):
            dtype = inputs_embeds.dtype
            x = inputs_embeds * torch.tensor(math.sqrt(self.hidden), dtype=dtype)
            # Scores are soft-capped and masked in float32, so the bias is float32 too.
            bias = po.prefix_lm_bias(attention_mask, past[0][0], inputs_embeds, torch.float32)
            bias_sliding = None
            if self.sliding_window is not None and any(self.sliding_layers):
                # minimum, not a sum: two finfo.min would add up to -inf and a NaN row.
                bias_sliding = torch.minimum(bias, self.sliding_bias(past[0][0], inputs_embeds))
            inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
            freqs = position_ids.to(torch.float32).unsqueeze(-1) * inv  # [B,S,D/2]
            emb = torch.cat([freqs, freqs], -1).unsqueeze(1)  # [B,1,S,D]
            cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
            b, s = inputs_embeds.shape[0], inputs_embeds.shape[1]
            rep = self.nq // self.nkv
            present = []
            for i, (layer, (pk, pv)) in enumerate(zip(self.layers, past)):
                attn = layer.self_attn
                y = layer.input_layernorm(x)
                q = attn.q_proj(y).view(b, s, self.nq, self.hd).transpose(1, 2)
                k = attn.k_proj(y).view(b, s, self.nkv, self.hd).transpose(1, 2)
                v = attn.v_proj(y).view(b, s, self.nkv, self.hd).transpose(1, 2)
                q = q * cos + rotate_half(q) * sin
                k = k * cos + rotate_half(k) * sin
                k = torch.cat([pk, k], 2)
                v = torch.cat([pv, v], 2)
                present.append((k, v))
                kk = k.unsqueeze(2).expand(-1, -1, rep, -1, -1).flatten(1, 2)
                vv = v.unsqueeze(2).expand(-1, -1, rep, -1, -1).flatten(1, 2)
                scores = (torch.matmul(q, kk.transpose(2, 3)) * self.scaling).to(torch.float32)
                if self.attn_cap:
                    scores = torch.tanh(scores / self.attn_cap) * self.attn_cap
                use_sliding = bias_sliding is not None and self.sliding_layers[i]
                scores = scores + (bias_sliding if use_sliding else bias)
                probs = torch.softmax(scores, -1).to(dtype)
                a = torch.matmul(probs, vv).transpose(1, 2).reshape(b, s, self.nq * self.hd)
                x = x + layer.post_attention_layernorm(attn.o_proj(a))
                y = layer.pre_feedforward_layernorm(x)
                x = x + layer.post_feedforward_layernorm(layer.mlp(y))
            if self.last_only:
                # Rows are left-padded, so the last position is every row's newest token. Skips the
                # lm_head over a 4k-token prefix ([B,S,257216] logits are GBs at 896 px).
                x = x[:, -1:, :]
            # float32 island: final norm, lm_head and soft-cap. In float16 the soft-cap 30*tanh(x/30) turns logit
            # gaps of 0.03-0.2 near the cap into exact ties that resolve to the lowest id (issue 10); the graph
            # returns float32 logits.
            logits = po.final_logits_float32(x, self.norm.weight, self.norm_eps, self.lm_head_f32, self.final_cap)
            return logits, present

    return torch, po, VisionAdapter, EmbedAdapter, Gemma2Core


# --------------------------------------------------------------------------------------------------
# Hugging Face model access (module layout differs between transformers versions)
# --------------------------------------------------------------------------------------------------

def resolve_modules(hf) -> Tuple[Any, Any, Any, Any]:
    """Returns (vision_tower, multi_modal_projector, text model with embed_tokens/layers/norm, lm_head).

    transformers < 4.52: hf.vision_tower, hf.multi_modal_projector, hf.language_model = Gemma2ForCausalLM
    (.model, .lm_head). transformers >= 4.52: hf.model = PaliGemmaModel (vision_tower,
    multi_modal_projector, language_model = Gemma2Model) and hf.lm_head.
    """
    inner = getattr(hf, "model", None)
    base = inner if inner is not None and hasattr(inner, "vision_tower") else hf
    vision_tower, projector, lm = base.vision_tower, base.multi_modal_projector, base.language_model
    if hasattr(lm, "lm_head") and hasattr(lm, "model"):
        text, lm_head = lm.model, lm.lm_head
    else:
        text, lm_head = lm, hf.lm_head
    for name in ("embed_tokens", "layers", "norm"):
        if not hasattr(text, name):
            raise SystemExit(f"error: the text model ({type(text).__name__}) has no '{name}'; "
                             "is this a PaliGemma 2 (Gemma 2) checkpoint?")
    return vision_tower, projector, text, lm_head


def cfg_get(cfg, *names, default=None):
    for n in names:
        v = getattr(cfg, n, None)
        if v is not None:
            return v
    return default


def text_config_dict(tc) -> Dict[str, Any]:
    model_type = getattr(tc, "model_type", "")
    if model_type != "gemma2":
        raise SystemExit(f"error: text_config.model_type is '{model_type}'; PaliGemma 2 uses 'gemma2' "
                         "(PaliGemma 1 / Gemma 1 checkpoints are not supported by this tool).")
    hidden = tc.hidden_size
    nq = tc.num_attention_heads
    head_dim = cfg_get(tc, "head_dim", default=hidden // nq)
    rope = getattr(tc, "rope_parameters", None) or {}
    theta = cfg_get(tc, "rope_theta", default=None)
    if theta is None:
        theta = rope.get("rope_theta", 10000.0) if isinstance(rope, dict) else 10000.0
    rope_scaling = getattr(tc, "rope_scaling", None)
    if rope_scaling and (rope_scaling.get("rope_type") or rope_scaling.get("type")) not in (None, "default"):
        raise SystemExit(f"error: rope_scaling {rope_scaling} is not supported (PaliGemma 2 has none).")
    act = cfg_get(tc, "hidden_activation", "hidden_act", default="gelu_pytorch_tanh")
    if act != "gelu_pytorch_tanh":
        log(f"warning: text activation is '{act}' (PaliGemma 2 uses gelu_pytorch_tanh); the HF MLP module "
            "is called as is")
    return {
        "hidden_size": hidden,
        "intermediate_size": tc.intermediate_size,
        "num_hidden_layers": tc.num_hidden_layers,
        "num_attention_heads": nq,
        "num_key_value_heads": cfg_get(tc, "num_key_value_heads", default=nq),
        "head_dim": head_dim,
        "rms_norm_eps": tc.rms_norm_eps,
        "rope_theta": float(theta),
        "query_pre_attn_scalar": cfg_get(tc, "query_pre_attn_scalar", default=head_dim),
        "attn_logit_softcapping": cfg_get(tc, "attn_logit_softcapping", default=None),
        "final_logit_softcapping": cfg_get(tc, "final_logit_softcapping", default=None),
        "sliding_window": cfg_get(tc, "sliding_window", default=None),
        "layer_types": getattr(tc, "layer_types", None),
        "vocab_size": tc.vocab_size,
    }


def sliding_layers_of(tc: Dict[str, Any]) -> List[bool]:
    """Which layers HF runs with the sliding window: config.layer_types when present, else even layers
    (Gemma 2: `is_sliding = not bool(layer_idx % 2)`)."""
    n = tc["num_hidden_layers"]
    types = tc.get("layer_types")
    if types:
        return [t == "sliding_attention" for t in types][:n]
    return [i % 2 == 0 for i in range(n)]


# --------------------------------------------------------------------------------------------------
# Export helpers
# --------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def export_environment(torch, dtype, device: str):
    """The shared export functions build their dummy inputs with plain torch.zeros/randn/arange/tensor.
    Setting torch's default dtype and device for the duration makes those dummies float16 (so the graphs'
    inputs_embeds and KV-cache I/O are float16, not float32 with casts) and puts them on the model's device.
    It also keeps the TorchScript exporter on torch >= 2.9, whose torch.onnx.export defaults to dynamo:
    the toy checkpoint is exported by the TorchScript path, and this must be the same path."""
    old_dtype = torch.get_default_dtype()
    old_export = torch.onnx.export
    set_device = getattr(torch, "set_default_device", None)
    try:
        if "dynamo" in inspect.signature(old_export).parameters:
            def export_ts(*args, **kwargs):
                kwargs.setdefault("dynamo", False)
                return old_export(*args, **kwargs)
            torch.onnx.export = export_ts
        torch.set_default_dtype(dtype)
        if device != "cpu":
            if set_device is None:
                raise SystemExit("error: --device cuda needs torch >= 2.0 (torch.set_default_device)")
            set_device(device)
        yield
    finally:
        torch.set_default_dtype(old_dtype)
        if device != "cpu" and set_device is not None:
            try:
                set_device(None)  # torch >= 2.1: back to no default-device mode
            except (TypeError, RuntimeError):
                set_device("cpu")
        torch.onnx.export = old_export


def calibrate_float16(torch, po, hf, vision, embed, core, tc: Dict[str, Any], image_size: int, dtype, device: str) -> None:
    """Runs one calibration batch (a seeded noise image + "<bos>caption en\\n") through the modules about to be
    exported, in the export dtype, and raises po.Float16OverflowError naming the first weight or module
    output that float16 cannot hold (weights past 65504 in a bfloat16 checkpoint load as inf)."""
    g = torch.Generator().manual_seed(0)
    pixels = (torch.rand(1, 3, image_size, image_size, generator=g) * 2 - 1).to(device=device, dtype=dtype)
    ids = torch.tensor([[2, 6302, 547, 108]], dtype=torch.int64, device=device)
    ids = ids.clamp(max=int(tc["vocab_size"]) - 1)
    nkv, hd = tc["num_key_value_heads"], tc["head_dim"]

    def run():
        feats = vision(pixels)
        embeds = torch.cat([feats, embed(ids).to(feats.dtype)], 1)
        s = embeds.shape[1]
        mask = torch.ones(1, s, dtype=torch.int64, device=device)
        pos = torch.arange(1, s + 1, dtype=torch.int64, device=device).unsqueeze(0)
        past = [(torch.zeros(1, nkv, 0, hd, dtype=dtype, device=device),
                 torch.zeros(1, nkv, 0, hd, dtype=dtype, device=device)) for _ in range(tc["num_hidden_layers"])]
        core(embeds, mask, pos, past)

    modules = [("vision." + n, m) for n, m in vision.named_modules()] + \
              [("decoder." + n, m) for n, m in core.named_modules()]
    po.check_float16_range(modules, run, named_parameters=hf.named_parameters())


def finish_graph(staging: str, name: str, out_dir: str) -> List[str]:
    """Moves one exported graph from its staging folder to out_dir. A graph over 2 GB comes out of
    torch.onnx.export as one file per weight; it is rewritten with all weights in `<name>.onnx_data`
    (the onnx-community naming) so the directory holds one data file per graph. Returns written names."""
    import onnx
    src = os.path.join(staging, name + ".onnx")
    dst = os.path.join(out_dir, name + ".onnx")
    others = [f for f in os.listdir(staging) if f != name + ".onnx"]
    if not others:
        shutil.move(src, dst)
        onnx.checker.check_model(dst)
        return [name + ".onnx"]
    model = onnx.load(src, load_external_data=True)
    data = name + ".onnx_data"
    onnx.save_model(model, dst, save_as_external_data=True, all_tensors_to_one_file=True, location=data,
                    size_threshold=1024)
    del model
    onnx.checker.check_model(dst)  # path form: works for models over 2 GB
    return [name + ".onnx", data]


def copy_tokenizer(src: str, out_dir: str) -> List[str]:
    copied = []
    for f in TOKENIZER_FILES:
        p = os.path.join(src, f)
        if os.path.isfile(p):
            shutil.copyfile(p, os.path.join(out_dir, f))
            copied.append(f)
    return copied


def check_tokenizer(out_dir: str, image_token_index: int) -> None:
    """The engine encodes with tokenizer.model (SentencePiece) and needs Gemma's special ids."""
    path = os.path.join(out_dir, "tokenizer.model")
    if not os.path.isfile(path):
        raise SystemExit("error: the source folder has no tokenizer.model (the SentencePiece model the engine "
                         "encodes with); copy it from the base model (google/paligemma2-*) into --model")
    try:
        import sentencepiece as spm
    except ImportError:
        log("sentencepiece not installed: tokenizer.model copied without checking its special ids")
        return
    sp = spm.SentencePieceProcessor(model_file=path)
    got = {"<pad>": sp.piece_to_id("<pad>"), "<eos>": sp.piece_to_id("<eos>"), "<bos>": sp.piece_to_id("<bos>"),
           "\\n": sp.piece_to_id("\n")}
    want = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "\\n": 108}
    if got != want:
        raise SystemExit(f"error: tokenizer.model ids {got} differ from Gemma's {want}")
    if sp.get_piece_size() > image_token_index + 1:
        log(f"note: tokenizer.model has {sp.get_piece_size()} pieces (image token index {image_token_index})")


def parse_pad_color(value: str) -> str:
    v = value.lower()
    if len(v) == 7 and v[0] == "#" and all(ch in "0123456789abcdef" for ch in v[1:]):
        return v
    raise argparse.ArgumentTypeError("expected #rrggbb, e.g. #ffffff")


def fidelity_fields(args: argparse.Namespace) -> Dict[str, str]:
    """The checkpoint.json keys the engine requires: how images are fitted and resampled, and the window."""
    fields = {"image_mode": args.image_mode, "resample": args.resample, "sliding_window": args.sliding_window}
    if args.image_mode == "pad":
        fields["pad_color"] = args.pad_color
    return fields


def build_arg_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="local folder of the HF PaliGemma 2 checkpoint")
    ap.add_argument("--out", required=True, help="output checkpoint directory (created; must be empty or absent)")
    ap.add_argument("--task", required=True, help="task this checkpoint serves: table, molecule, score, report "
                    "(other names are accepted and get no defaults)")
    ap.add_argument("--name", required=True, help="checkpoint name, e.g. table-896")
    ap.add_argument("--version", required=True, help="checkpoint version recorded with every result, e.g. 2026.11.1")
    ap.add_argument("--prompt-prefix", default="", help="prompt prefix the fine-tune was trained with "
                    "(placed after <bos>, before the newline); default empty")
    ap.add_argument("--max-new-tokens", type=int, default=None,
                    help="default per task: table 4096, molecule 256, score 1024, report 512")
    ap.add_argument("--post-processor", default=None,
                    help="default per task: table_html, smiles, kern, report_sections; else none")
    ap.add_argument("--image-mode", choices=("resize", "pad"), default=FIDELITY_DEFAULTS["image_mode"],
                    help="resize (default, HF's PaliGemmaProcessor): stretch to R x R; pad: keep the aspect "
                         "ratio and pad to square with --pad-color (the PaliGemma 2 paper's tables)")
    ap.add_argument("--pad-color", type=parse_pad_color, default="#ffffff",
                    help="canvas colour for --image-mode pad, #rrggbb (default #ffffff)")
    ap.add_argument("--resample", choices=("bicubic", "bilinear"), default=FIDELITY_DEFAULTS["resample"],
                    help="bicubic (default, PIL bicubic as HF) or bilinear (big_vision)")
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                    help="weights, activations and KV cache of the graphs (default float16; float32 doubles "
                         "memory and is the fallback when float16 output differs)")
    ap.add_argument("--device", default="auto", help="where to trace: auto (cuda when available), cuda, cpu. "
                    "float16 tracing on cpu is slow at 896 px")
    ap.add_argument("--logits", choices=("last", "all"), default="last",
                    help="decoder logits for every input position (all, [B,S,V], the DESIGN section 5 "
                         "signature) or only the last one (last, [B,1,V]): at 896 px 'all' makes the prefill "
                         "return ~2 GB of float16 logits per image; 'last' needs an engine that takes the newest "
                         "position from the logits' own shape")
    ap.add_argument("--sliding-window", choices=("hf", "none"), default=FIDELITY_DEFAULTS["sliding_window"],
                    help="hf (default): the config's sliding_window on the layers transformers' Gemma 2 applies "
                         "it to; none: every layer attends globally, as big_vision's Gemma 2 trained PaliGemma 2")
    ap.add_argument("--skip-overflow-check", action="store_true",
                    help="float16 only: do not run the calibration batch that refuses an export whose weights or "
                         "activations overflow float16 (not recommended)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_arg_parser().parse_args(argv)
    model_dir = os.path.abspath(args.model)
    out_dir = os.path.abspath(args.out)
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        raise SystemExit(f"error: {model_dir} has no config.json (expected a local HF checkpoint folder)")
    if os.path.isdir(out_dir) and os.listdir(out_dir) and not args.force:
        raise SystemExit(f"error: {out_dir} is not empty (use --force to overwrite)")
    defaults = TASK_DEFAULTS.get(args.task, {"max_new_tokens": 512, "post_processor": "none"})
    max_new = args.max_new_tokens if args.max_new_tokens is not None else defaults["max_new_tokens"]
    post = args.post_processor or defaults["post_processor"]
    if max_new <= 0:
        raise SystemExit("error: --max-new-tokens must be positive")

    try:
        torch, po, VisionAdapter, EmbedAdapter, Gemma2Core = build_adapters()
    except ImportError as e:
        raise SystemExit(f"error: torch is needed ({e})")
    try:
        import transformers  # noqa: F401  (lazy: not needed for --help)
        from transformers import PaliGemmaForConditionalGeneration
    except ImportError as e:
        raise SystemExit(f"error: transformers with PaliGemma support is needed ({e})")
    import onnx  # noqa: F401

    dtype = torch.float16 if args.dtype == "float16" else torch.float32
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and dtype == torch.float16:
        log("warning: tracing float16 on the CPU; at 896 px the vision pass may take minutes")

    log(f"loading {model_dir} (transformers {transformers.__version__}, torch {torch.__version__}, {args.dtype}, "
        f"{device})")
    t0 = time.time()
    hf = PaliGemmaForConditionalGeneration.from_pretrained(
        model_dir, local_files_only=True, attn_implementation="eager",
        # transformers 5 renamed from_pretrained's torch_dtype to dtype.
        **({"dtype": dtype} if int(transformers.__version__.split(".")[0]) >= 5 else {"torch_dtype": dtype}))
    hf = hf.to(device=device, dtype=dtype).eval()
    log(f"loaded in {time.time() - t0:.1f}s")

    cfg = hf.config
    tc = text_config_dict(cfg.text_config)
    vc = cfg.vision_config
    image_size = int(vc.image_size)
    patch = int(getattr(vc, "patch_size", 14))
    if patch != 14:
        raise SystemExit(f"error: vision patch size {patch}; the engine and write_configs assume 14")
    image_token_index = int(cfg_get(cfg, "image_token_index", "image_token_id", default=257152))
    vocab_size = int(tc["vocab_size"])
    if tc["num_attention_heads"] % tc["num_key_value_heads"]:
        raise SystemExit("error: num_attention_heads is not a multiple of num_key_value_heads")

    window = tc["sliding_window"] if args.sliding_window == "hf" else None
    sliding = sliding_layers_of(tc)
    if window is None and tc["sliding_window"]:
        log(f"note: config declares sliding_window={tc['sliding_window']} on alternate layers; exporting "
            "global attention on every layer (big_vision's PaliGemma 2). --sliding-window hf applies HF's mask.")

    vision_tower, projector, text, lm_head = resolve_modules(hf)
    vision = VisionAdapter(vision_tower, projector, tc["hidden_size"], dtype).eval()
    embed = EmbedAdapter(text.embed_tokens).eval()
    core = Gemma2Core(text, lm_head, tc, window, sliding, args.logits).eval()
    if dtype == torch.float16 and not args.skip_overflow_check:
        t0 = time.time()
        try:
            calibrate_float16(torch, po, hf, vision, embed, core, tc, image_size, dtype, device)
        except po.Float16OverflowError as e:
            raise SystemExit(f"error: float16 export refused: {e}") from None
        log(f"float16 calibration batch: no overflow ({time.time() - t0:.1f}s)")

    os.makedirs(out_dir, exist_ok=True)
    if args.force:
        for f in os.listdir(out_dir):
            p = os.path.join(out_dir, f)
            if os.path.isfile(p) and (f.endswith(".onnx") or f.endswith(".onnx_data") or f.endswith(".json")
                                      or f in TOKENIZER_FILES):
                os.remove(p)
    written: List[str] = []
    # Staging next to --out (same file system): big graphs come out of the exporter as one file per weight.
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out_dir) as staging_root:
        with torch.no_grad(), export_environment(torch, dtype, device):
            steps = (
                ("vision_encoder", lambda p: po.export_vision(vision, p, image_size, args.opset)),
                ("embed_tokens", lambda p: po.export_embed(embed, p, args.opset)),
                ("decoder_model_merged", lambda p: po.export_decoder(
                    core, p, num_layers=tc["num_hidden_layers"], num_kv_heads=tc["num_key_value_heads"],
                    head_dim=tc["head_dim"], hidden=tc["hidden_size"], with_mask=True, opset=args.opset)),
            )
            for name, export in steps:
                t0 = time.time()
                staging = os.path.join(staging_root, name)
                os.makedirs(staging)
                export(os.path.join(staging, name + ".onnx"))
                log(f"{name}: traced in {time.time() - t0:.1f}s")
                written += finish_graph(staging, name, out_dir)
                shutil.rmtree(staging)
                log(f"{name}: written and checked ({time.time() - t0:.1f}s)")
    del hf, vision, embed, core

    copied = copy_tokenizer(model_dir, out_dir)
    check_tokenizer(out_dir, image_token_index)
    # preprocessor_config.json records PIL's filter number for transformers.js; it follows --resample.
    resample = {"bicubic": 3, "bilinear": 2}[args.resample]
    checkpoint = {
        "task": args.task, "name": args.name, "version": args.version, "resolution": image_size,
        "prompt_prefix": args.prompt_prefix, "max_new_tokens": max_new, "post_processor": post,
        **fidelity_fields(args),
    }
    vision_dims = {"hidden_size": vc.hidden_size, "intermediate_size": vc.intermediate_size,
                   "num_hidden_layers": vc.num_hidden_layers, "num_attention_heads": vc.num_attention_heads}
    po.write_configs(out_dir, text=tc, vision=vision_dims, image_size=image_size,
                     image_token_index=image_token_index, vocab_size=vocab_size, checkpoint=checkpoint,
                     resample=resample)
    # write_configs fills the fields the toy needs; record what differs for a real model.
    cfg_path = os.path.join(out_dir, "config.json")
    with open(cfg_path, encoding="utf-8") as f:
        config = json.load(f)
    config["text_config"]["query_pre_attn_scalar"] = tc["query_pre_attn_scalar"]
    config["text_config"]["attn_logit_softcapping"] = tc["attn_logit_softcapping"]
    config["text_config"]["final_logit_softcapping"] = tc["final_logit_softcapping"]
    config["text_config"]["sliding_window"] = window
    config["transformers.js_config"] = {"dtype": "fp16" if dtype == torch.float16 else "fp32"}
    config["docpipe_export"] = {
        "source": os.path.basename(model_dir.rstrip(os.sep)), "dtype": args.dtype, "logits": args.logits,
        "sliding_window": window, "opset": args.opset, "tool": "tools/export_paligemma2.py",
    }
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)

    log(f"done: {out_dir}")
    log("  graphs: " + ", ".join(written))
    log("  tokenizer: " + ", ".join(copied))
    log(f"  checkpoint.json: {json.dumps(checkpoint)}")
    log(f"register it with: docpipe models add {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
