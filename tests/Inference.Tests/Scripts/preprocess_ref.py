"""NumPy reference for the preprocessing test.
Usage: preprocess_ref.py in.rgb W H R out.f32
Pads a W x H RGB image whose longer side is already R to an R x R white square, centred
(offset (R - side) // 2), scales with (x / 255 - 0.5) / 0.5 in float32 and writes planar CHW float32."""
import sys

import numpy as np

src, w, h, r, dst = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
img = np.fromfile(src, dtype=np.uint8).reshape(h, w, 3)
assert max(w, h) == r, "the reference only pads; resampling is not part of it"
canvas = np.full((r, r, 3), 255, dtype=np.uint8)
y0, x0 = (r - h) // 2, (r - w) // 2
canvas[y0:y0 + h, x0:x0 + w] = img
x = (canvas.astype(np.float32) / np.float32(255.0) - np.float32(0.5)) / np.float32(0.5)
np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32).tofile(dst)
