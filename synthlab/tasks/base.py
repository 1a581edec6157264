"""What every task module shares: a step schedule as the dataloader, and output helpers."""

import torch
from torch.utils.data import DataLoader, Dataset


class Steps(Dataset):
    """Items 0..n-1: image-optimisation tasks have no data, only a schedule of steps
    (Lightning needs a train_dataloader; each item is one training_step)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def steps_loader(n: int) -> DataLoader:
    return DataLoader(Steps(n), batch_size=None, shuffle=False, num_workers=0)


def pick_device(module) -> torch.device:
    return next(module.buffers()).device
