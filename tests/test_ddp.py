"""The GAN past one CPU on Lightning's DDP (gloo on the CPU): two processes train, one writes.

Each process reads its share of the digits (Lightning's distributed sampler), every gated step
is taken by both (the accuracies it gates on are averaged across them) and their gradients
are averaged: an epoch is still one pass over the data, in half the optimiser steps, each on
twice the digits. Through the real command, as a user runs it.
"""

import json

import torch
from conftest import cli

BASE = ["task=gan", "data.limit=400", "data.batch_size=100", "network.blocks=2", "task.g_steps=2",
        "task.d_steps=2", "logger=none", "trainer.enable_progress_bar=false"]


def test_two_processes_train_one_writes_and_a_resume_continues(tmp_path, mnist):
    out = tmp_path / "run"
    ddp = ["trainer.devices=2", "trainer.strategy=ddp", f"data.root={mnist}", f"hydra.run.dir={out}"]
    r = cli(*BASE, *ddp, "trainer.max_epochs=1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    said = r.stdout + r.stderr
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in said and "2 batches of 100 per process, 2 processes" in said
    rows = [json.loads(l) for l in (out / "epochs.jsonl").read_text().splitlines()]
    assert [(x["epoch"], x["batches"], x["processes"]) for x in rows] == [(1, 2, 2)]  # one writer, half the batches
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch001.ckpt", "last.ckpt"]
    assert (out / "samples" / "epoch001.png").is_file() and json.loads((out / "metrics.json").read_text())["epochs"] == 1

    (out / "metrics.json").unlink()  # as if killed after epoch 1: resume continues in the same folder
    r = cli(*BASE, *ddp[:-1], "trainer.max_epochs=2", f"resume={out}", f"hydra.run.dir={tmp_path / 'again'}",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(l) for l in (out / "epochs.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in rows] == [1, 2]
    ckpt = torch.load(out / "checkpoints" / "epoch002.ckpt", weights_only=True)
    assert "G_ema.out.weight" in ckpt["state_dict"]  # the sampler's weights
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 2
