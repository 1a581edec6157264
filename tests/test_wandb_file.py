"""A real offline W&B run, read back from its .wandb file with W&B's own record schema
(wandb.proto; wandb 0.31 ships no Python reader of the file, so the log framing, LevelDB's
32 KiB blocks of checksummed records, is unpacked here): config, history, summary, images."""

import json
import struct

import numpy as np
import pytest
from conftest import TINY, cli
from PIL import Image

pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")


def records(path):
    data = path.read_bytes()
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a record header is padding
            pos += left
            continue
        _crc, n, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pos += 7
        if kind == 0:
            break
        buf = data[pos:pos + n] if kind in (1, 2) else buf + data[pos:pos + n]  # FULL/FIRST start one
        pos += n
        if kind in (1, 4):  # FULL or LAST ends it
            r = pb.Record()
            r.ParseFromString(buf)
            yield r


def key(item):
    return item.key or "/".join(item.nested_key)


def test_offline_run_has_flat_config_history_summary_and_real_images(tmp_path):
    args = [a for a in TINY if not a.startswith("logger")]
    r = cli(*args, "task.phases=1", "task.iterations=12", "task.evals_per_step=4", "network/activation=relu",
            "critic.patches.variety=0.25", f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (log,) = (tmp_path / "run" / "wandb").glob("offline-run-*/run-*.wandb")
    config, history, summary, files = {}, [], {}, []
    for rec in records(log):
        kind = rec.WhichOneof("record_type")
        if kind == "config":
            config.update({key(i): json.loads(i.value_json) for i in rec.config.update})
        elif kind == "history":
            history.append({key(i): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "summary":
            summary.update({key(i): json.loads(i.value_json) for i in rec.summary.update})
        elif kind == "files":
            files += [f.path for f in rec.files.files]
    # config: the whole tree, the group choices and the overrides, so a dashboard can group by them
    assert config["choices"]["network/activation"] == "relu" and config["critic"]["patches"]["variety"] == 0.25
    assert "critic.patches.variety=0.25" in config["overrides"]
    # history: the loss at every step, falling
    losses = [h["loss"] for h in history if "loss" in h]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    # summary: the final metrics
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["swd"] == pytest.approx(metrics["swd"]) and "copy64" in summary
    # images: every logged one is a picture (W&B once wrote them black)
    media = [p for p in files if p.startswith("media/images/")]
    assert any("result" in p for p in media) and any("frames" in p for p in media)
    for p in media:
        a = np.asarray(Image.open(log.parent / "files" / p).convert("RGB")).astype(int)
        assert a.std() > 5, (p, a.min(), a.max())
