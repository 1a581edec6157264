"""The image-optimisation solver: phases, an evaluation budget, the optimiser and its restarts.

A plain component: a task asks it which phase a step belongs to and what size the image has in
that phase, hands it the image at the start of each phase, and lets it spend evaluations of the
task's loss. Tests and `synthlab bench` run it without a Trainer (backward defaults to
Tensor.backward; a LightningModule passes its manual_backward).

Phase i of n works at scale 1/2^(n-1-i). Each phase spends `iterations` function
evaluations (one number for every phase, or a list with one per phase: a coarse phase that
only lays out the large structures may get fewer): steps of a first-order optimiser (Adam:
one evaluation a step), or L-BFGS evaluations including its line search. L-BFGS stops early
when a line search finds no decrease (the loss moved under it, e.g. new patch matches); its
memory is then dropped and it restarts from steepest descent, so every phase spends its
whole budget.
"""

import math
import time
from typing import Callable

import torch

from synthlab.errors import SynthlabError


class Solver:
    def __init__(self, optim: Callable, phases: int = 1, iterations=100, evals_per_step: int = 20):
        budgets = [iterations] * max(1, phases) if not hasattr(iterations, "__len__") else list(iterations)
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in (phases, evals_per_step, *budgets)):
            raise SynthlabError(f"task.phases, task.iterations and task.evals_per_step must be integers >= 1, "
                                f"got {phases!r}, {iterations!r}, {evals_per_step!r}")
        if len(budgets) != phases:
            raise SynthlabError(f"task.iterations lists {len(budgets)} budgets for {phases} phase(s): "
                                "give one number, or one per phase")
        self.optim, self.phases, self.budgets, self.evals_per_step = optim, phases, budgets, evals_per_step
        self.total = sum(budgets)  # evaluations in all phases
        self.phase_steps = [math.ceil(b / evals_per_step) for b in budgets]
        self.first_steps = [sum(self.phase_steps[:i]) for i in range(phases)]  # each phase's first step
        self.opt = None
        self.evals = self.phase_evals = self.restarts = 0
        self.phase_seconds = [0.0] * phases

    # --- the schedule ----------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Training steps in all: each spends up to evals_per_step evaluations."""
        return sum(self.phase_steps)

    def phase_of(self, step: int) -> int:
        return max(i for i, first in enumerate(self.first_steps) if first <= step)

    def is_last_step(self, step: int) -> bool:
        return step + 1 in (f + n for f, n in zip(self.first_steps, self.phase_steps))

    def scale(self, phase: int) -> float:
        return 0.5 ** (self.phases - 1 - phase)

    def phase_size(self, hw, phase: int) -> tuple:
        return tuple(max(1, round(v * self.scale(phase))) for v in hw)

    # --- optimising ------------------------------------------------------------------------
    def start(self, params, phase: int = 0) -> None:
        """A new phase: a fresh optimiser over these parameters and the phase's budget."""
        self.opt = self.optim(list(params))
        for k, v in self.opt.defaults.items():  # a NaN lr would only show as "loss became nan"
            if isinstance(v, float) and not math.isfinite(v):
                raise SynthlabError(f"optim.{k} must be a finite number, got {v}")
        self.phase_evals = 0
        self.budget = self.budgets[phase]

    def left(self) -> int:
        """Evaluations the next step may spend."""
        return min(self.evals_per_step, self.budget - self.phase_evals)

    def spend(self, n: int, loss_fn: Callable, backward: Callable = torch.Tensor.backward, phase: int = 0) -> float:
        """Spend n function evaluations of loss_fn; returns the last loss."""
        def closure():
            self.opt.zero_grad()
            loss = loss_fn()
            backward(loss)
            self.evals += 1
            self.phase_evals += 1
            return loss

        t, start = time.perf_counter(), self.evals
        group = self.opt.param_groups[0]
        budgeted = "max_eval" in group  # L-BFGS: one step() spends up to max_eval evaluations
        loss = None
        while self.evals - start < n:
            want = n - (self.evals - start)
            if budgeted:
                group["max_iter"] = group["max_eval"] = want
            before = self.evals
            loss = self.opt.step(closure)
            if budgeted and self.evals - before < want:  # stopped early: restart from steepest descent
                self.opt.state.clear()
                self.restarts += 1
        self.phase_seconds[phase] += time.perf_counter() - t
        if loss is not None and not torch.isfinite(loss):
            raise SynthlabError(f"loss became {float(loss)} at phase {phase}, evaluation {self.evals}: "
                                "lower the optimiser's lr or the loss weights")
        return float("nan") if loss is None else float(loss.detach())

    def stats(self) -> dict:
        return {"evals": self.evals, "restarts": self.restarts, "phase_seconds": self.phase_seconds}
