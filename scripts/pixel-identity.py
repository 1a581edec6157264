"""Same config and seed, same pixels: run three small jobs through the real `synthlab` command
and hash the decoded pixels of what they wrote (not the PNG bytes: their text chunks hold the
run folder's path). Run it before a refactor with --save, after it with --check.

    python scripts/pixel-identity.py --save /tmp/before.json
    python scripts/pixel-identity.py --check /tmp/before.json    # exit 1 on any difference

The GAN job trains one epoch on MNIST from --mnist (default ../shared/data/mnist); hashes are
for one machine and thread count (set OMP_NUM_THREADS the same for both runs).
"""

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

JOBS = {
    "texture_64": (["task.size=[64,64]", "task.exemplar_max_side=64"], ["texture.png"]),
    "cppn": (["task=cppn", "task.size=[128,128]"], ["cppn.png"]),
    "gan_1_epoch": (["task=gan", "trainer.max_epochs=1", "data.root={mnist}"], ["samples/epoch001.png"]),
}


def pixels(path: Path) -> str:
    return hashlib.sha256(np.asarray(Image.open(path)).tobytes()).hexdigest()[:16]


def run_all(mnist: str) -> dict:
    hashes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, files) in JOBS.items():
            out = Path(tmp) / name
            cmd = [sys.executable, "-m", "synthlab", *(a.format(mnist=mnist) for a in args), "logger=none",
                   "trainer.enable_progress_bar=false", f"hydra.run.dir={out}"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
            for f in files:
                hashes[f"{name}/{f}"] = pixels(out / f)
                print(f"{name}/{f}: {hashes[f'{name}/{f}']}")
    return hashes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--save", metavar="FILE")
    what.add_argument("--check", metavar="FILE")
    ap.add_argument("--mnist", default="../shared/data/mnist")
    a = ap.parse_args()
    now = run_all(a.mnist)
    if a.save:
        Path(a.save).write_text(json.dumps(now, indent=2) + "\n")
        return
    before = json.loads(Path(a.check).read_text())
    diff = [k for k in before if before[k] != now.get(k)]
    print("pixel-identical" if not diff else f"DIFFERENT: {', '.join(diff)}")
    sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
