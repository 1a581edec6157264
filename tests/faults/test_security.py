"""Security properties that hold for the whole package."""

import ast
from pathlib import Path

import numpy as np
from conftest import cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthlab import SynthlabError
from synthlab.data import load_image

PKG = Path(__file__).resolve().parents[2] / "synthlab"


def calls(name):
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in name:
                yield f, node


def test_every_torch_load_is_weights_only():
    found = list(calls({"torch.load"}))
    assert found, "the scan found no torch.load at all"
    for f, node in found:
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        assert kw.get("weights_only") == "True", f"{f}:{node.lineno} torch.load without weights_only=True"
    for f, node in calls({"trainer.fit"}):
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        assert kw.get("weights_only") == "True", f"{f}:{node.lineno} checkpoint resume without weights_only=True"


def test_no_config_value_is_evaluated_as_code():
    assert not list(calls({"eval", "exec", "compile"})), "eval/exec in the package"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048))
def test_random_bytes_give_an_image_or_the_clear_error(tmp_path, data):
    p = tmp_path / "fuzz.png"
    p.write_bytes(data)
    try:
        img = load_image(p)
    except SynthlabError as e:
        assert str(p) in str(e)
    else:
        assert img.dim() == 3 and img.shape[0] == 3 and 0 <= float(img.min()) <= float(img.max()) <= 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["PNG", "JPEG", "GIF", "BMP", "TIFF"]), st.integers(1, 40), st.integers(1, 40),
       st.sampled_from(["L", "RGB", "RGBA", "P", "I;16"]), st.integers(0, 400))
def test_real_images_cut_anywhere_never_raise_anything_else(tmp_path, fmt, w, h, mode, cut):
    from PIL import Image

    if mode == "I;16" and fmt not in ("PNG", "TIFF") or mode in ("RGBA", "P") and fmt == "JPEG":
        return
    arr = np.random.default_rng(w * h).integers(0, 255, (h, w, 3), dtype=np.uint8)
    img = Image.fromarray(arr).convert(mode) if mode != "I;16" else Image.fromarray(arr[..., 0].astype(np.uint16) * 257)
    p = tmp_path / f"x.{fmt.lower()}"
    img.save(p, format=fmt)
    if cut:
        p.write_bytes(p.read_bytes()[:cut])
    try:
        t = load_image(p)
        assert t.shape[1:] in ((h, w),) or cut
    except SynthlabError:
        pass


def test_report_html_escapes_user_strings(tmp_path):
    from synthlab.io import write_json

    d = tmp_path / "job"
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("- 'tags=[\"<script>alert(1)</script>\"]'\n- seed=1\n")
    write_json(d / "metrics.json", {"status": "ok", "swd": 1.0, "run_name": "<script>x</script>"})
    e = tmp_path / "bad"
    e.mkdir()
    (e / "error.txt").write_text("<img src=x onerror=alert(1)>")
    assert cli("report", str(tmp_path)).returncode == 0
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;img src=x" in page


def test_report_links_stay_inside_the_sweep_folder(tmp_path):
    from PIL import Image

    from synthlab.io import write_json

    outside = tmp_path / "secret"
    outside.mkdir()
    Image.new("RGB", (4, 4)).save(outside / "texture.png")
    sweep = tmp_path / "sweep"
    inside = sweep / "inside"
    inside.mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(inside / "texture.png")
    linked = sweep / "linked_file"
    linked.mkdir()
    (linked / "texture.png").symlink_to(outside / "texture.png")  # a file link leading out
    (sweep / "linked_dir").symlink_to(outside)  # a whole job folder leading out
    for d in (inside, linked, sweep / "linked_dir"):
        write_json(d / "metrics.json", {"status": "ok", "swd": 1.0, "run_name": d.name})
    assert cli("report", str(sweep)).returncode == 0
    page = (sweep / "report.html").read_text()
    assert 'src="inside/texture.png"' in page
    assert "secret" not in page and "linked_file/texture.png" not in page and "linked_dir/texture.png" not in page
