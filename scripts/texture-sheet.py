"""The texture quality contact sheet in docs/: one row per exemplar, the exemplar, then the
output of each recipe named on the command line (the folders scripts/texture-quality.sh
writes). Usage: python scripts/texture-sheet.py OUT.png[@CELL_PX] default previous_default ..."""

import sys
from pathlib import Path

from synthlab.report import collect
from synthlab.report_html import contact_sheet

root = Path("outputs/multirun/texture_quality")
out, recipes = Path(sys.argv[1].split("@")[0]), sys.argv[2:]
# jobs stopped by a signal (the sweep cut short) are not results: their cells stay empty
runs = [r for r in collect(root) if r["dir"].split("/")[0] in recipes
        and not str(r.get("error", "")).startswith("stopped by")]
order = {name: i for i, name in enumerate(recipes)}
for r in runs:  # columns in the order given: name them by position
    r["overrides"] = [o for o in r.get("overrides", []) if o.startswith("task.exemplar=")]
    r["overrides"].append(f"recipe={order[r['dir'].split('/')[0]]}:{r['dir'].split('/')[0].replace('extreme_style_machines', 'the post').replace('random_multiscale', 'baseline')}")
png = contact_sheet(root, runs, "swd", path=root / "texture_sheet.png",
                     cell=int(sys.argv[1].split("@")[1]) if "@" in sys.argv[1] else 160)
if out.suffix.lower() in (".jpg", ".jpeg"):  # photos: a JPEG is a quarter of the PNG, for docs/
    from PIL import Image

    Image.open(png).convert("RGB").save(out, quality=88)
else:
    out.write_bytes(png.read_bytes())
print(out)
