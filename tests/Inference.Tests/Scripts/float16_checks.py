#!/usr/bin/env python3
"""float16 export checks for Float16ExportTests (issue 10). Debian python3-torch/-onnx/-numpy.

near-tie OUT_DIR
    Exports tools/paligemma_onnx.final_logits_float32 (the float32 island the real export puts behind the
    decoder: final RMSNorm, lm_head, soft-cap 30) as a graph with a float16 hidden-state input, with a
    constructed near-tie: two vocabulary rows whose pre-cap logits are ~100.0 (lower id) and ~100.2
    (higher id). Prints JSON: the float16 input, the float64 numpy reference argmax (computed from the same
    float16 input and float32 weights), and the argmax of the same arithmetic done in float16 (numpy,
    rounding after each op as a float16 graph does). The C# test runs the graph with ONNX Runtime.

overflow
    Runs tools/export_paligemma2.calibrate_float16 (the check the export runs before writing a float16
    graph) on the toy model with the real tool's adapters: unchanged, with one MLP's gate and up weights scaled x300
    (activations past 65504) and with one weight set to 1e5. Prints JSON with the outcome of each.
"""
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import paligemma_onnx as po  # noqa: E402

H, V, CAP = 8, 16, 30.0
LOW, HIGH = 3, 9  # the tie resolves to the lower id in float16; the true maximum is the higher one


def near_tie(out_dir: str) -> dict:
    rng = np.random.default_rng(10)
    x16 = rng.standard_normal(H).astype(np.float16)
    norm_w = (rng.standard_normal(H) * 0.1).astype(np.float32)
    eps = 1e-6
    x64 = x16.astype(np.float64)
    h64 = x64 / np.sqrt(np.mean(x64 ** 2) + eps) * (1.0 + norm_w.astype(np.float64))
    targets = rng.uniform(-20, 20, V)
    targets[LOW], targets[HIGH] = 100.0, 100.2
    # Rows w_i = t_i * h / |h|^2 give h.w_i = t_i (plus a random part orthogonal to h for the others).
    w = np.outer(targets, h64) / np.dot(h64, h64)
    w32 = w.astype(np.float32)
    w64 = w32.astype(np.float64)
    ref = np.tanh((h64 @ w64.T) / CAP) * CAP

    # The same arithmetic in float16, rounded after each op (norm statistics included).
    f16 = np.float16
    xh = x16
    hh = (xh / np.sqrt(np.mean(xh.astype(np.float32) ** 2).astype(f16) + f16(eps))).astype(f16)
    hh = (hh * (f16(1.0) + norm_w.astype(f16))).astype(f16)
    lh = (hh.astype(np.float32) @ w32.astype(f16).astype(np.float32).T).astype(f16)  # fp32 accumulate, fp16 out
    naive = (np.tanh((lh / f16(CAP)).astype(f16)).astype(f16) * f16(CAP)).astype(f16)

    class Island(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.norm_w = torch.nn.Parameter(torch.from_numpy(norm_w))
            self.register_buffer("w", torch.from_numpy(w32))

        def forward(self, x):
            return po.final_logits_float32(x, self.norm_w, eps, self.w, CAP)

    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "island.onnx")
    dummy = torch.from_numpy(x16.reshape(1, 1, H))  # float16 input: the dtype of a float16 decoder's stream
    torch.onnx.export(Island().eval(), (dummy,), path, opset_version=17, input_names=["hidden"],
                      output_names=["logits"])
    po.check_onnx(path)
    return {
        "graph": path, "input": [float(v) for v in x16], "shape": [1, 1, H],
        "reference_argmax": int(np.argmax(ref)), "reference_gap": float(ref[HIGH] - ref[LOW]),
        "float16_argmax": int(np.argmax(naive)), "float16_tied": bool(naive[HIGH] == naive[LOW]),
        "low": LOW, "high": HIGH,
    }


def overflow() -> dict:
    import export_paligemma2 as ex
    import make_test_checkpoint as mk

    torch.set_num_threads(1)
    tokenizer = os.path.join(ROOT, "models", "test-checkpoint", "224", "tokenizer.model")
    torch_, _, VisionAdapterUnused, EmbedAdapter, Gemma2Core = ex.build_adapters()
    results = {}
    for case in ("unchanged", "scaled_mlp", "huge_weight"):
        vision, embed, text, lm_head, tc = mk.hf_shaped_toy(6, tokenizer)
        with torch.no_grad():
            if case == "scaled_mlp":
                text.layers[1].mlp.up_proj.weight.mul_(300.0)
                text.layers[1].mlp.gate_proj.weight.mul_(300.0)
            elif case == "huge_weight":
                text.layers[0].self_attn.v_proj.weight[0, 0] = 1e5
        core = Gemma2Core(text, lm_head, tc, None, ex.sliding_layers_of(tc), "last").eval()
        holder = torch.nn.ModuleDict({"vision": vision, "text": text})
        try:
            ex.calibrate_float16(torch_, po, holder, vision, EmbedAdapter(embed), core, tc, 224, torch.float32, "cpu")
            results[case] = {"refused": False}
        except po.Float16OverflowError as e:
            results[case] = {"refused": True, "message": str(e)}
    return results


def main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "near-tie":
        print(json.dumps(near_tie(sys.argv[2])))
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "overflow":
        print(json.dumps(overflow()))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
