"""A plain MNIST classifier (the discriminator's architecture with 10 classes, trained apart from
any GAN) whose only job is to score generated digits: the GAN's class consistency. It scores
digits of the size it was trained on, `data.crop`."""

import torch
import torch.nn.functional as F

from synthlab.data.mnist import center_crop
from synthlab.errors import SynthlabError
from synthlab.io import atomic_write
from synthlab.nets.discriminator import Discriminator
from synthlab.tasks.base import Task


class MNISTClassifier(Task):
    items = "digits"

    def __init__(self, optim, data, out_dir, *, holdout: int, seed: int, name: str):
        super().__init__(out_dir, name, seed)
        if holdout < 1:
            raise SynthlabError(f"task.holdout must be >= 1, got {holdout}")
        self.optim, self.data, self.size, self.holdout = optim, data, data.crop, holdout
        self.net = Discriminator(10, self.size, 32, self.seed, running_stats=True)

    def train_dataloader(self):
        return self.data.train_dataloader()

    def configure_optimizers(self):
        return self.optim(self.net.parameters())

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.log_dict({"loss": loss, "acc": (logits.argmax(1) == y).float().mean()}, prog_bar=True)
        return loss

    @torch.no_grad()
    def holdout_accuracy(self):
        """Accuracy on the last `holdout` digits (centre crops); data.limit keeps them out of training."""
        x = center_crop(self.data.all_images[-self.holdout:], self.size)
        y = self.data.all_labels[-self.holdout:]
        self.net.eval()  # the running statistics, as the classifier scores
        return float((self.net(x.to(self.device)).argmax(1).cpu() == y).float().mean())

    def save_outputs(self, text: dict) -> dict:
        state = {"size": self.size, "state_dict": {k: v.cpu() for k, v in self.net.state_dict().items()}}
        path = self.out_dir / "classifier.pt"
        atomic_write(path, lambda tmp: torch.save(state, tmp))
        return {"holdout_acc": self.holdout_accuracy(), "classifier": str(path)}

    def result(self):
        return None  # a classifier makes no image
