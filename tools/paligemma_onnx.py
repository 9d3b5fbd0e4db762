"""Shared ONNX export code for PaliGemma 2 checkpoints (three-graph layout, docs/architecture.md section 5).

Used by tools/make_test_checkpoint.py (toy model) and meant to be reused by a real-checkpoint export
tool (torch + transformers). Everything here only depends on torch, onnx and sentencepiece.

Graphs written:
  vision_encoder.onnx        pixel_values [B,3,R,R] -> image_features [B,N,H]   (already / sqrt(H))
  embed_tokens.onnx          input_ids [B,S] int64 -> inputs_embeds [B,S,H]    (raw lookup)
  decoder_model_merged.onnx  inputs_embeds [B,S,H], attention_mask [B,P+S] (batch-capable style only),
                             position_ids [B,S], past_key_values.N.key/value [B,KV,P,D]
                             -> logits [B,S,V], present.N.key/value [B,KV,P+S,D]

The decoder multiplies inputs_embeds by sqrt(H) itself and builds the prefix-LM mask inside the graph:
the first call (no past) is the prefix and attends bidirectionally; later chunks are causal. Keys whose
attention_mask entry is 0 (left padding) are never attended. Without an attention_mask input (the
onnx-community style) every key is visible, which equals the HF inference mask at batch 1.

A real-checkpoint export wraps the HF PaliGemma model in three modules with these signatures. Its decoder
`core(inputs_embeds, attention_mask_or_None, position_ids, past)` -> (logits, [(k, v), ...]) uses
prefix_lm_bias for its attention bias and multiplies inputs_embeds by sqrt(width) itself. Then it calls
export_vision / export_embed / export_decoder, write_hf_tokenizer and write_configs.
cast_io_to_float16 derives a variant whose graph inputs and outputs are float16.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

# --------------------------------------------------------------------------------------------------
# In-graph masks and positions (shared with a real-model wrapper)
# --------------------------------------------------------------------------------------------------


def prefix_lm_bias(
    attention_mask: Optional[torch.Tensor],
    past_key: torch.Tensor,
    inputs_embeds: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Additive attention bias [B or 1, 1, S, P+S] built from shapes only, so it traces dynamically.

    The past length is taken from a ones-vector shaped like the past axis rather than from a Python
    int, because a Python int would be frozen into the traced graph as a constant.
    """
    past_ones = torch.ones_like(past_key[0, 0, :, 0], dtype=torch.float32)  # [P]
    new_ones = torch.ones_like(inputs_embeds[0, :, 0], dtype=torch.float32)  # [S]
    past_len = past_ones.sum()
    kpos = torch.cumsum(torch.cat([past_ones, new_ones], 0), 0)  # 1..P+S
    qpos = torch.cumsum(new_ones, 0) + past_len  # P+1..P+S
    causal = kpos.unsqueeze(0) <= qpos.unsqueeze(1)  # [S, P+S]
    prefill = past_len == 0  # first chunk = prefix: bidirectional
    allowed = torch.logical_or(causal, prefill).unsqueeze(0).unsqueeze(0)  # [1,1,S,P+S]
    if attention_mask is not None:
        keys = (attention_mask > 0).unsqueeze(1).unsqueeze(2)  # [B,1,1,P+S]
        allowed = torch.logical_and(allowed, keys)
    # finfo.min rather than -inf: a fully masked (padding) query row then softmaxes to a uniform
    # distribution instead of NaN, and its output is never read.
    zero = torch.zeros((), dtype=dtype)
    neg = torch.full((), torch.finfo(dtype).min, dtype=dtype)
    return torch.where(allowed, zero, neg)


# --------------------------------------------------------------------------------------------------
# float16 exports: a float32 island for the logits, and an overflow check before anything is written
# --------------------------------------------------------------------------------------------------

FLOAT16_MAX = 65504.0


def final_logits_float32(x: torch.Tensor, norm_weight: torch.Tensor, eps: float, lm_head_f32: torch.Tensor,
                         cap: Optional[float]) -> torch.Tensor:
    """Gemma's final RMSNorm (1 + w), the lm_head and the final soft-cap, all in float32 whatever x's dtype.

    In float16, 30*tanh(l/30) maps pre-cap logits 0.2 apart near 100 onto the same float16 value (its
    spacing just below 1.0 is 2^-11), so the argmax falls on the lower id; in float32 they stay apart.
    HF's Gemma2RMSNorm also normalises in float32 but casts back to the input dtype before the lm_head;
    here nothing goes back to float16. lm_head_f32 is a float32 copy of the head (tied to the embedding in
    PaliGemma 2): +2 bytes per weight in the decoder graph of a float16 export."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    h = h * (1.0 + norm_weight.to(torch.float32))
    logits = torch.matmul(h, lm_head_f32.t())
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


class Float16OverflowError(RuntimeError):
    """A weight or activation that float16 cannot hold (|v| > 65504, inf or NaN)."""


def check_float16_range(named_modules, run: Callable[[], object], named_parameters=()) -> Dict[str, float]:
    """Refuses a float16 export that would overflow. Checks every parameter, then runs `run()` (a
    calibration batch through the modules about to be exported) with a forward hook on each module and
    checks every floating output. Works on a float32 model (a value past 65504 would become inf in
    float16) and on a float16 one (inf/NaN already there). Raises Float16OverflowError naming the first
    offender in execution order; returns {name: max |v|} of what was seen otherwise."""
    seen: Dict[str, float] = {}
    for name, p in named_parameters:
        m = _max_abs(p.detach())
        if m is None or m > FLOAT16_MAX:
            raise Float16OverflowError(
                f"weight '{name}' does not fit float16 (max |w| = {m if m is not None else 'inf/nan'}); "
                "export with --dtype float32")
    bad: List[Tuple[str, Optional[float]]] = []
    hooks = []

    def hook_for(name: str):
        def hook(_module, _inputs, output):
            outs = output if isinstance(output, (tuple, list)) else (output,)
            for o in outs:
                if isinstance(o, torch.Tensor) and o.is_floating_point():
                    m = _max_abs(o.detach())
                    seen[name] = max(seen.get(name, 0.0), m if m is not None else float("inf"))
                    if (m is None or m > FLOAT16_MAX) and not bad:
                        bad.append((name, m))
        return hook

    for name, module in named_modules:
        hooks.append(module.register_forward_hook(hook_for(name or "<root>")))
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    if bad:
        name, m = bad[0]
        raise Float16OverflowError(
            f"activation of '{name}' overflows float16 on the calibration batch "
            f"(max |x| = {m if m is not None else 'inf/nan'} > {FLOAT16_MAX:g}); export with --dtype float32")
    return seen


def _max_abs(t: torch.Tensor) -> Optional[float]:
    t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        return None
    return float(t.abs().max()) if t.numel() else 0.0


# --------------------------------------------------------------------------------------------------
# Export wrappers
# --------------------------------------------------------------------------------------------------

class DecoderWithMask(torch.nn.Module):
    """Batch-capable decoder signature. `core(inputs_embeds, attention_mask, position_ids, past)`."""

    def __init__(self, core: torch.nn.Module, num_layers: int):
        super().__init__()
        self.core = core
        self.num_layers = num_layers

    def forward(self, inputs_embeds, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.num_layers)]
        logits, present = self.core(inputs_embeds, attention_mask, position_ids, past)
        out = [logits]
        for k, v in present:
            out += [k, v]
        return tuple(out)


class DecoderNoMask(torch.nn.Module):
    """onnx-community style decoder signature (no attention_mask input)."""

    def __init__(self, core: torch.nn.Module, num_layers: int):
        super().__init__()
        self.core = core
        self.num_layers = num_layers

    def forward(self, inputs_embeds, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.num_layers)]
        logits, present = self.core(inputs_embeds, None, position_ids, past)
        out = [logits]
        for k, v in present:
            out += [k, v]
        return tuple(out)


def export_vision(vision: torch.nn.Module, path: str, image_size: int, opset: int = 17) -> None:
    """vision(pixel_values) must return image_features already divided by sqrt(text width)."""
    dummy = torch.zeros(1, 3, image_size, image_size)
    torch.onnx.export(
        vision, (dummy,), path, opset_version=opset, do_constant_folding=True,
        input_names=["pixel_values"], output_names=["image_features"],
        dynamic_axes={"pixel_values": {0: "batch_size"}, "image_features": {0: "batch_size"}},
    )


def export_embed(embed: torch.nn.Module, path: str, opset: int = 17) -> None:
    dummy = torch.tensor([[2, 5, 7]], dtype=torch.int64)
    torch.onnx.export(
        embed, (dummy,), path, opset_version=opset, do_constant_folding=True,
        input_names=["input_ids"], output_names=["inputs_embeds"],
        dynamic_axes={"input_ids": {0: "batch_size", 1: "sequence_length"},
                      "inputs_embeds": {0: "batch_size", 1: "sequence_length"}},
    )


def export_decoder(core: torch.nn.Module, path: str, *, num_layers: int, num_kv_heads: int,
                   head_dim: int, hidden: int, with_mask: bool, opset: int = 17) -> None:
    """KV-head count and head_dim stay static: transformers.js sizes its empty cache from them."""
    b, s, p = 2, 3, 4
    embeds = torch.randn(b, s, hidden)
    pos = torch.arange(p + 1, p + s + 1, dtype=torch.int64).unsqueeze(0).repeat(b, 1)
    mask = torch.ones(b, p + s, dtype=torch.int64)
    past = []
    past_names: List[str] = []
    present_names: List[str] = []
    axes: Dict[str, Dict[int, str]] = {
        "inputs_embeds": {0: "batch_size", 1: "sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(num_layers):
        for kind in ("key", "value"):
            past.append(torch.randn(b, num_kv_heads, p, head_dim))
            n_in, n_out = f"past_key_values.{i}.{kind}", f"present.{i}.{kind}"
            past_names.append(n_in)
            present_names.append(n_out)
            axes[n_in] = {0: "batch_size", 2: "past_sequence_length"}
            axes[n_out] = {0: "batch_size", 2: "total_sequence_length"}
    if with_mask:
        wrapper: torch.nn.Module = DecoderWithMask(core, num_layers)
        args = (embeds, mask, pos, *past)
        names = ["inputs_embeds", "attention_mask", "position_ids"] + past_names
        axes["attention_mask"] = {0: "batch_size", 1: "total_sequence_length"}
    else:
        wrapper = DecoderNoMask(core, num_layers)
        args = (embeds, pos, *past)
        names = ["inputs_embeds", "position_ids"] + past_names
    torch.onnx.export(
        wrapper, args, path, opset_version=opset, do_constant_folding=True,
        input_names=names, output_names=["logits"] + present_names, dynamic_axes=axes,
    )


def check_onnx(path: str) -> None:
    import onnx
    onnx.checker.check_model(onnx.load(path))


# --------------------------------------------------------------------------------------------------
# SentencePiece model proto editing (no generated protobuf module needed)
# --------------------------------------------------------------------------------------------------
# ModelProto: field 1 = repeated SentencePiece {1: piece (string), 2: score (float), 3: type (enum)}.
# Types: NORMAL 1, UNKNOWN 2, CONTROL 3, USER_DEFINED 4, BYTE 6, UNUSED 5.

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _read_varint(buf: bytes, i: int) -> Tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(buf: bytes):
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        field, wire = key >> 3, key & 7
        start = i
        if wire == 0:
            _, i = _read_varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 2:
            n, i = _read_varint(buf, i)
            start = i
            i += n
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, wire, key, buf[start:i]


def parse_pieces(model: bytes) -> Tuple[List[Tuple[str, float, int]], bytes]:
    """Returns (pieces, the rest of the ModelProto re-serialised verbatim)."""
    pieces: List[Tuple[str, float, int]] = []
    rest = bytearray()
    for field, wire, key, payload in _fields(model):
        if field == 1 and wire == 2:
            piece, score, typ = "", 0.0, NORMAL
            for f2, w2, _, p2 in _fields(payload):
                if f2 == 1:
                    piece = p2.decode("utf-8")
                elif f2 == 2:
                    score = struct.unpack("<f", p2)[0]
                elif f2 == 3:
                    typ, _ = _read_varint(p2, 0)
            pieces.append((piece, score, typ))
        else:
            rest += _varint(key)
            if wire == 2:
                rest += _varint(len(payload))
            rest += payload
    return pieces, bytes(rest)


def serialize_pieces(pieces: Sequence[Tuple[str, float, int]], rest: bytes) -> bytes:
    out = bytearray()
    for piece, score, typ in pieces:
        body = bytearray()
        pb = piece.encode("utf-8")
        body += _varint((1 << 3) | 2) + _varint(len(pb)) + pb
        body += _varint((2 << 3) | 5) + struct.pack("<f", score)
        if typ != NORMAL:
            body += _varint((3 << 3) | 0) + _varint(typ)
        out += _varint((1 << 3) | 2) + _varint(len(body)) + body
    return bytes(out) + rest


# --------------------------------------------------------------------------------------------------
# tokenizer.json / tokenizer_config.json from a SentencePiece BPE model
# --------------------------------------------------------------------------------------------------

def write_hf_tokenizer(pieces: Sequence[Tuple[str, float, int]], out_dir: str) -> None:
    """Writes tokenizer.json (BPE + byte fallback, '▁' normaliser, no post-processor: no automatic BOS)
    and tokenizer_config.json. Merges are derived from the vocabulary, ranked by the merged piece's id
    (SentencePiece BPE merges higher-scored = lower-id pieces first)."""
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    mergeable = {p: i for i, (p, _, t) in enumerate(pieces) if t in (NORMAL,)}
    merges = []
    for piece, rank in mergeable.items():
        for k in range(1, len(piece)):
            a, b = piece[:k], piece[k:]
            if a in mergeable and b in mergeable:
                merges.append((rank, vocab[a], vocab[b], a, b))
    merges.sort()
    added = []
    for i, (p, _, t) in enumerate(pieces):
        if t in (CONTROL, UNKNOWN, USER_DEFINED):
            content = p.replace("▁", " ")
            added.append({"id": i, "content": content, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": t != USER_DEFINED})
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for _, _, _, a, b in merges],
        },
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    cfg = {
        "tokenizer_class": "GemmaTokenizer",
        "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
        "add_bos_token": False, "add_eos_token": False, "padding_side": "left",
        "model_max_length": 1000000, "clean_up_tokenization_spaces": False,
        "spaces_between_special_tokens": False,
        "additional_special_tokens": ["<image>"],
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


# --------------------------------------------------------------------------------------------------
# config.json / preprocessor_config.json / checkpoint.json
# --------------------------------------------------------------------------------------------------

def write_configs(out_dir: str, *, text: dict, vision: dict, image_size: int, image_token_index: int,
                  vocab_size: int, checkpoint: dict, resample: int = 3) -> None:
    num_image_tokens = (image_size // 14) ** 2
    config = {
        "architectures": ["PaliGemmaForConditionalGeneration"],
        "model_type": "paligemma",
        "image_token_index": image_token_index,
        "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
        "hidden_size": text["hidden_size"],
        "projection_dim": text["hidden_size"],
        "vocab_size": vocab_size,
        "text_config": {
            "model_type": "gemma2",
            "hidden_size": text["hidden_size"],
            "intermediate_size": text["intermediate_size"],
            "num_hidden_layers": text["num_hidden_layers"],
            "num_attention_heads": text["num_attention_heads"],
            "num_key_value_heads": text["num_key_value_heads"],
            "head_dim": text["head_dim"],
            "vocab_size": vocab_size,
            "rms_norm_eps": text["rms_norm_eps"],
            "rope_theta": text["rope_theta"],
            "attn_logit_softcapping": 50.0,
            "final_logit_softcapping": 30.0,
            "query_pre_attn_scalar": text["head_dim"],
            "hidden_activation": "gelu_pytorch_tanh",
            "num_image_tokens": num_image_tokens,
            "sliding_window": None,
        },
        "vision_config": {
            "model_type": "siglip_vision_model",
            "hidden_size": vision["hidden_size"],
            "intermediate_size": vision["intermediate_size"],
            "num_hidden_layers": vision["num_hidden_layers"],
            "num_attention_heads": vision["num_attention_heads"],
            "patch_size": 14,
            "image_size": image_size,
            "num_image_tokens": num_image_tokens,
            "projection_dim": text["hidden_size"],
        },
        "transformers.js_config": {"dtype": "fp32"},
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    pre = {
        "processor_class": "PaliGemmaProcessor",
        "image_processor_type": "SiglipImageProcessor",
        "image_seq_length": num_image_tokens,
        "do_convert_rgb": True, "do_resize": True, "do_rescale": True, "do_normalize": True,
        "rescale_factor": 1.0 / 255.0,
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
        "resample": resample,
        "size": {"height": image_size, "width": image_size},
    }
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2)
    with open(os.path.join(out_dir, "checkpoint.json"), "w") as f:
        json.dump(checkpoint, f, indent=2)


# --------------------------------------------------------------------------------------------------
# float16 I/O variant (exercises a runtime's float16 paths without float16 kernels)
# --------------------------------------------------------------------------------------------------

def cast_io_to_float16(src: str, dst: str) -> None:
    """Rewrites a float32 graph so that every float32 graph input and output is float16, with Cast nodes
    at the boundary. The arithmetic inside stays float32; what changes is what a runtime must feed and
    read: float16 pixels, embeddings, KV cache and logits."""
    import onnx
    from onnx import TensorProto, helper

    m = onnx.load(src)
    g = m.graph
    del g.value_info[:]  # stale float32 shape/type hints for renamed values

    def rename(old: str, new: str, inputs: bool, outputs: bool) -> None:
        for node in g.node:
            if inputs:
                for i, name in enumerate(node.input):
                    if name == old:
                        node.input[i] = new
            if outputs:
                for i, name in enumerate(node.output):
                    if name == old:
                        node.output[i] = new

    casts_in = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            internal = inp.name + "_f32"
            rename(inp.name, internal, inputs=True, outputs=False)
            casts_in.append(helper.make_node("Cast", [inp.name], [internal], to=TensorProto.FLOAT))
            inp.type.tensor_type.elem_type = TensorProto.FLOAT16
    for i, node in enumerate(casts_in):
        g.node.insert(i, node)
    for out in g.output:
        if out.type.tensor_type.elem_type == TensorProto.FLOAT:
            internal = out.name + "_f32"
            rename(out.name, internal, inputs=True, outputs=True)
            g.node.append(helper.make_node("Cast", [internal], [out.name], to=TensorProto.FLOAT16))
            out.type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(m)
    onnx.save(m, dst)
