"""A plain MNIST classifier (the discriminator's architecture with 10 classes, trained apart from
any GAN) whose only job is to score generated digits: the GAN's class consistency."""

from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from synthlab.io import atomic_write
from synthlab.nets.discriminator import Discriminator


class MNISTClassifier(pl.LightningModule):
    def __init__(self, size: int = 26, lr: float = 1e-3, holdout: int = 1000, seed: int = 0, name: str = "mnist_classifier"):
        super().__init__()
        self.net = Discriminator(10, size, 32, seed)
        self.size, self.lr, self.holdout, self.name = size, lr, holdout, name
        self.out_dir = None

    def configure_optimizers(self):
        return torch.optim.Adam(self.net.parameters(), lr=self.lr)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.log_dict({"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}, prog_bar=True)
        return loss

    @torch.no_grad()
    def holdout_accuracy(self):
        """Accuracy on the last `holdout` digits (centre crops); data.limit keeps them out of training."""
        dm = self.trainer.datamodule
        x = dm.all_images[-self.holdout:, 1:1 + self.size, 1:1 + self.size].float()[:, None] / 255.0
        y = dm.all_labels[-self.holdout:]
        return float((self.net(x.to(self.device)).argmax(1).cpu() == y).float().mean())

    def save_outputs(self, out_dir: Path, text: dict) -> dict:
        state = {"size": self.size, "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()}}
        atomic_write(out_dir / "classifier.pt", lambda tmp: torch.save(state, tmp))
        return {"holdout_acc": self.holdout_accuracy(), "classifier": str(out_dir / "classifier.pt")}
