"""What SWD gives the exemplar's own pixels, rearranged: the scale to read the quality table by.

For each of the 18 exemplars (capped at 256 px, as the texture task uses them), the SWD of
three rearrangements against the exemplar: rolled by half its size (`swd_floor` in every
run's metrics.json), mirrored left-right, and its 64 px blocks shuffled; and a 3x3 box blur
(the same layout, less detail). Mean SWD, the band-pass levels alone, and the low-pass level.
Usage (repo root, with ../shared/data/textures beside it): python scripts/swd-calibration.py
"""

import glob

import torch
import torch.nn.functional as F

from synthlab.data import fit_max_side, load_image
from synthlab.metrics import swd

D = "../shared/data/textures"
EXEMPLARS = ["skimage:grass", "skimage:brick", "skimage:gravel", f"{D}/brick_wall.jpg", f"{D}/pebbles.jpg",
             f"{D}/trees.jpg", *sorted(glob.glob(f"{D}/dev/*.png"))]


def shuffled(x, block=64, seed=0):
    h, w = x.shape[-2] // block, x.shape[-1] // block
    tiles = [x[:, i * block:(i + 1) * block, j * block:(j + 1) * block] for i in range(h) for j in range(w)]
    out = x.clone()
    for k, p in enumerate(torch.randperm(len(tiles), generator=torch.Generator().manual_seed(seed)).tolist()):
        i, j = divmod(k, w)
        out[:, i * block:(i + 1) * block, j * block:(j + 1) * block] = tiles[p]
    return out


WAYS = {"rolled by half": lambda x: x.roll((x.shape[-2] // 2, x.shape[-1] // 2), (-2, -1)),
        "mirrored": lambda x: x.flip(-1), "64 px blocks shuffled": shuffled,
        "3x3 blur": lambda x: F.avg_pool2d(x[None], 3, 1, 1, count_include_pad=False)[0]}

rows = {k: [] for k in WAYS}
for e in EXEMPLARS:
    x = fit_max_side(load_image(e), 256)
    for k, f in WAYS.items():
        s = swd(f(x), x)
        rows[k].append((s["mean"], s["band"], s["levels"][-1]))
print(f"{len(EXEMPLARS)} exemplars\n| the exemplar, | SWD mean | SWD worst | band mean | low-pass mean |\n|---|---|---|---|---|")
for k, r in rows.items():
    n = len(r)
    print(f"| {k} | {sum(a for a, _, _ in r) / n:.1f} | {max(a for a, _, _ in r):.1f} | "
          f"{sum(b for _, b, _ in r) / n:.1f} | {sum(c for _, _, c in r) / n:.1f} |")
