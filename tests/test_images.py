import numpy as np
import pytest
import torch
from PIL import Image

from synthlab import SynthlabError
from synthlab.data import load_image
from synthlab.io import save_png


def _save(tmp_path, img, name, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


def test_modes_all_load_as_rgb_in_unit_range(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    files = {
        "rgb.jpg": Image.fromarray(rgb),
        "grey.png": Image.fromarray(rgb[..., 0]),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full((20, 30), 128, np.uint8)])),
        "palette.png": Image.fromarray(rgb).convert("P"),
        "grey16.png": Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)),
    }
    for name, img in files.items():
        t = load_image(_save(tmp_path, img, name))
        assert t.shape == (3, 20, 30) and t.dtype == torch.float32, name
        assert 0 <= t.min() and t.max() <= 1 and t.max() > 0.5, name
    grey16 = load_image(tmp_path / "grey16.png")
    assert torch.allclose(grey16[0], torch.from_numpy(rgb[..., 0] / 255.0).float(), atol=1e-6)
    assert torch.equal(load_image(tmp_path / "rgba.png"), load_image(_save(tmp_path, Image.fromarray(rgb), "x.png")))


def test_exif_rotation_is_applied(tmp_path):
    img = Image.fromarray(np.zeros((10, 40, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif)
    assert load_image(p).shape == (3, 40, 10)


def test_skimage_exemplars_offline():
    for name in ("grass", "brick", "gravel"):
        assert load_image(f"skimage:{name}").shape == (3, 512, 512)


@pytest.mark.parametrize("content, words", [
    (b"", "is empty"), (b"not an image at all", "cannot read"),
])
def test_unreadable_files_are_named(tmp_path, content, words):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(SynthlabError, match=words) as e:
        load_image(p)
    assert str(p) in str(e.value)


def test_truncated_png_is_named(tmp_path):
    p = _save(tmp_path, Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "t.png")
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(SynthlabError, match="cannot read image"):
        load_image(p)


def test_save_png_is_atomic_and_keeps_text(tmp_path):
    p = save_png(tmp_path / "a.png", torch.rand(3, 8, 9), {"synthlab:config": "seed: 1"})
    assert Image.open(p).info["synthlab:config"] == "seed: 1"
    assert [f.name for f in tmp_path.iterdir()] == ["a.png"]  # no temp file left behind
