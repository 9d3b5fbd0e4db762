"""Pillow reference for the resampler parity test (Debian python3-pil).

Usage: pil_resize_ref.py manifest.json
Each manifest case names a PNM/PGM page (as mutool wrote it), the model resolution R, the filter
(bicubic | bilinear), the fit (resize | pad) and the pad colour. For each case it writes, next to the
manifest, <id>.fit.rgb (the R x R RGB image Pillow makes: Image.resize with the filter, for pad pasted
centred on a canvas of the pad colour), <id>.tensor.f32 (planar float32 as HF's SiglipImageProcessor
computes it: float64 rescale by 1/255 cast to float32, then (x - 0.5) / 0.5 in float32) and, for
greyscale pages, <id>.gray.raw (Image.resize of the L image, one byte per pixel)."""
import json
import os
import sys

import numpy as np
from PIL import Image

FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def main() -> None:
    manifest_path = sys.argv[1]
    out_dir = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path, encoding="utf-8") as f:
        cases = json.load(f)
    for c in cases:
        src = Image.open(c["source"])
        src.load()
        r, filt = c["resolution"], FILTERS[c["filter"]]
        w, h = (r, r) if c["fit"] == "resize" else (c["fitted_width"], c["fitted_height"])
        fitted = src.resize((w, h), filt)
        if src.mode == "L":
            np.asarray(fitted, dtype=np.uint8).tofile(os.path.join(out_dir, c["id"] + ".gray.raw"))
        fitted = fitted.convert("RGB")
        if (w, h) != (r, r):
            canvas = Image.new("RGB", (r, r), tuple(c["pad"]))
            canvas.paste(fitted, ((r - w) // 2, (r - h) // 2))
            fitted = canvas
        rgb = np.asarray(fitted, dtype=np.uint8)
        rgb.tofile(os.path.join(out_dir, c["id"] + ".fit.rgb"))
        x = (rgb.astype(np.float64) * (1 / 255)).astype(np.float32)
        x = (x - np.array([0.5] * 3, dtype=np.float32)) / np.array([0.5] * 3, dtype=np.float32)
        np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32).tofile(os.path.join(out_dir, c["id"] + ".tensor.f32"))
    print(json.dumps({"pillow": Image.__version__, "cases": len(cases)}))


if __name__ == "__main__":
    main()
