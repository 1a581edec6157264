"""The expansion sheet: per run under ROOT, the exemplar and the output side by side, each at
its own pixel size, so a 512 px output of a 256 px exemplar shows its objects at the
exemplar's scale (a contact sheet scales both to one cell and would hide that).
Usage: python scripts/expansion-sheet.py OUT.jpg ROOT (e.g. outputs/multirun/texture_expansion/default)"""

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

out, root = Path(sys.argv[1]), Path(sys.argv[2])
runs = [d for d in sorted(root.iterdir()) if (d / "metrics.json").is_file() and (d / "texture.png").is_file()]
pairs = [(Image.open(d / "exemplar.png").convert("RGB"), Image.open(d / "texture.png").convert("RGB"), d) for d in runs]
gap, text = 8, 16
w = max(e.width + gap + t.width for e, t, _ in pairs)
sheet = Image.new("RGB", (w, sum(t.height + text + gap for _, t, _ in pairs)), "white")
draw, y = ImageDraw.Draw(sheet), 0
for e, t, d in pairs:
    m = json.loads((d / "metrics.json").read_text())
    draw.text((0, y), f"{d.name}: exemplar {e.width}x{e.height}, output {t.width}x{t.height}, "
              f"copy64 {m.get('copy64', float('nan')):.3f}, {m.get('seconds', 0):.0f} s", fill="black")
    sheet.paste(e, (0, y + text))
    sheet.paste(t, (e.width + gap, y + text))
    y += t.height + text + gap
sheet.save(out, quality=85) if out.suffix.lower() in (".jpg", ".jpeg") else sheet.save(out)
print(out)
