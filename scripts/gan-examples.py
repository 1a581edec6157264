"""Small README pictures from a task=gan_sample folder: the class grid and random grid
(enlarged 2x, nearest), the ten big digits shrunk into one strip, and a strip of morph frames.

    python scripts/gan-examples.py outputs/gan_sample/<date>/<time> docs/images
"""

import sys
from pathlib import Path

from PIL import Image, ImageSequence


def strip(images, side: int, cols: int) -> Image.Image:
    rows = (len(images) + cols - 1) // cols
    sheet = Image.new("L", (cols * side, rows * side), 0)
    for i, im in enumerate(images):
        sheet.paste(im.convert("L").resize((side, side), Image.LANCZOS), ((i % cols) * side, (i // cols) * side))
    return sheet


def main(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in ("class_grid", "random_grid"):
        im = Image.open(src / f"{name}.png").convert("L")
        im.resize((im.width * 2, im.height * 2), Image.NEAREST).save(dst / f"gan_{name}.png", optimize=True)
    digits = sorted(src.glob("digit_*_*.png"), key=lambda p: int(p.name.split("_")[1]))
    strip([Image.open(p) for p in digits], 160, 5).save(dst / "gan_digits_1080.png", optimize=True)
    gif = Image.open(src / "morph.gif")
    frames = [f.copy() for f in ImageSequence.Iterator(gif)]
    strip(frames[::max(1, len(frames) // 20)][:20], 96, 10).save(dst / "gan_morph_frames.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
