"""The texture judging sheet: one row per exemplar, the exemplar, then the output of each
recipe named on the command line (the folders scripts/texture-quality.sh writes), each cell at
CELL px (256: an output at its own size, where colour speckle and smears show).
Usage: python scripts/texture-sheet.py OUT.jpg[@CELL_PX] default random_multiscale ...
         [--root outputs/multirun/texture_quality]"""

import sys
from pathlib import Path

from synthlab.report import collect
from synthlab.report_html import contact_sheet

args = sys.argv[1:]
root = Path("outputs/multirun/texture_quality")
if "--root" in args:
    i = args.index("--root")
    root, args = Path(args[i + 1]), args[:i] + args[i + 2:]
out, recipes = Path(args[0].split("@")[0]), args[1:]
# jobs stopped by a signal (the sweep cut short) are not results: their cells stay empty
runs = [r for r in collect(root) if r["dir"].split("/")[0] in recipes
        and not str(r.get("error", "")).startswith("stopped by")]
order = {name: i for i, name in enumerate(recipes)}
for r in runs:  # columns in the order given: name them by position
    r["overrides"] = [o for o in r.get("overrides", []) if o.startswith("task.exemplar=")]
    r["overrides"].append(f"recipe={order[r['dir'].split('/')[0]]}:{r['dir'].split('/')[0].replace('extreme_style_machines', 'the post').replace('random_multiscale', 'baseline')}")
png = contact_sheet(root, runs, "swd", path=root / "texture_sheet.png",
                    cell=int(args[0].split("@")[1]) if "@" in args[0] else 160)
if out.suffix.lower() in (".jpg", ".jpeg"):  # photos: a JPEG is a quarter of the PNG, for docs/
    from PIL import Image

    Image.open(png).convert("RGB").save(out, quality=88)
else:
    out.write_bytes(png.read_bytes())
print(out)
