#!/usr/bin/env python3
"""HF parity check for the export tool and the C# engine (issue 10, docs/fidelity.md).

Intended use, on a machine with torch + transformers (the lent GPU machine):

    python3 tools/hf_parity.py [--work DIR]

Plan (stage by stage, Markdown table on stdout, non-zero exit on a mismatch):
  1. build a tiny random PaliGemma 2 with HF's own classes (Gemma 2 with a small sliding window, attention
     and final soft-caps; SigLIP at 896 px with few layers) and save it with the toy tokenizer;
  2. export it with tools/export_paligemma2.py for each setting (--sliding-window hf / none, float32);
  3. compare with the C# engine: pixel tensor vs HF's processor, image features, prefill logits (max abs
     diff), greedy ids at batch 1 and 3 (attn_implementation="eager", float32; then float16 on CUDA).

Status: only the dependency stage is implemented. Stages 1-3 are not written yet, because nothing here can
run them (no transformers on the development machines) and untested comparison code would prove nothing.
This script says so and exits 3 rather than printing a table.
"""
import argparse
import importlib
import sys

# transformers' Gemma 2 masking changed several times in 2025 (DESIGN.md section 5): the comparison is only
# meaningful against the version it was written for.
PINNED = {"torch": "2.", "transformers": "4.57.1"}


def found(name: str):
    try:
        return importlib.import_module(name).__version__
    except ImportError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=None, help="working directory for the HF model and exports")
    ap.parse_args()
    print("| package | pinned | found |")
    print("|---|---|---|")
    versions = {name: found(name) for name in PINNED}
    for name, pin in PINNED.items():
        print(f"| {name} | {pin}{'x' if pin.endswith('.') else ''} | {versions[name] or 'not installed'} |")
    if versions["transformers"] is None:
        print("\nstopping: stage 1 needs transformers "
              f"{PINNED['transformers']} (pip install transformers=={PINNED['transformers']}), which is not installed here.")
        return 3
    if versions["transformers"] != PINNED["transformers"]:
        print(f"\nwarning: transformers {versions['transformers']} is not the pinned {PINNED['transformers']}.")
    print("\nstopping: stages 1-3 (HF model, export, stage-by-stage comparison) are not implemented yet "
          "(issue 10 leaves them open; see docs/fidelity.md).")
    return 3


if __name__ == "__main__":
    sys.exit(main())
