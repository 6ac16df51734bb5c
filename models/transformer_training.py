"""Fine-tuning loop and temperature scaling for :class:`models.text_transformer.TransformerTextClassifier`.

Training is plain AdamW with linear warm-up and decay, on length-sorted, dynamically padded batches,
against soft targets (a compound report's secondary category gets part of the mass). A time budget can
stop training early: the learning-rate schedule is laid out for the planned steps, so a stopped run is
a run with a shorter tail, not a broken one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from models.transformer_encoder import length_sorted_batches, pad_batch

Progress = Callable[[int, int, float], None]  # (step, total steps, running loss)


@dataclass(frozen=True)
class Schedule:
    epochs: float = 3.0
    batch_size: int = 16
    learning_rate: float = 1e-4
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_share: float = 0.06
    max_seconds: float | None = None


@dataclass
class TrainingLog:
    planned_steps: int
    steps: int = 0
    seconds: float = 0.0
    examples_seen: int = 0
    stopped_by_budget: bool = False
    epoch_losses: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "planned_steps": self.planned_steps,
            "steps": self.steps,
            "seconds": round(self.seconds, 1),
            "examples_seen": self.examples_seen,
            "stopped_by_budget": self.stopped_by_budget,
            "epoch_losses": [round(loss, 4) for loss in self.epoch_losses],
        }


def soft_targets(
    primary: np.ndarray, n_classes: int, secondary: np.ndarray | None = None, secondary_weight: float = 0.35
) -> np.ndarray:
    """(n, n_classes) target distribution: one-hot on the primary class; where a secondary class is
    given (index >= 0 and different), ``secondary_weight`` of the mass moves to it."""
    targets = np.zeros((len(primary), n_classes), dtype=np.float32)
    targets[np.arange(len(primary)), primary] = 1.0
    if secondary is not None:
        rows = np.flatnonzero((secondary >= 0) & (secondary != primary))
        targets[rows, primary[rows]] = 1.0 - secondary_weight
        targets[rows, secondary[rows]] = secondary_weight
    return targets


def train(
    module,
    token_ids: Sequence[Sequence[int]],
    targets: np.ndarray,
    schedule: Schedule,
    pad_id: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> TrainingLog:
    """Fine-tune ``module`` in place on (token ids, soft targets)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    lengths = [len(ids) for ids in token_ids]
    batches_per_epoch = math.ceil(len(token_ids) / schedule.batch_size)
    log = TrainingLog(planned_steps=max(1, round(schedule.epochs * batches_per_epoch)))
    optimizer = _optimizer(module, schedule)
    scheduler = _linear_schedule(optimizer, log.planned_steps, schedule.warmup_share)
    target_tensor = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    started = time.perf_counter()
    module.train()
    while log.steps < log.planned_steps and not log.stopped_by_budget:
        epoch_loss, epoch_rows = 0.0, 0
        for rows in length_sorted_batches(lengths, schedule.batch_size, rng):
            loss = _step(module, optimizer, scheduler, token_ids, target_tensor, rows, pad_id)
            epoch_loss += loss * len(rows)
            epoch_rows += len(rows)
            log.steps += 1
            log.examples_seen += len(rows)
            if progress is not None:
                progress(log.steps, log.planned_steps, epoch_loss / epoch_rows)
            elapsed = time.perf_counter() - started
            if schedule.max_seconds is not None and elapsed > schedule.max_seconds:
                log.stopped_by_budget = log.steps < log.planned_steps
                break
            if log.steps >= log.planned_steps:
                break
        log.epoch_losses.append(epoch_loss / max(epoch_rows, 1))
    log.seconds = time.perf_counter() - started
    module.eval()
    return log


def _step(module, optimizer, scheduler, token_ids, targets, rows: np.ndarray, pad_id: int) -> float:
    import torch

    input_ids, mask = pad_batch(token_ids, rows, pad_id)
    logits = module(input_ids, mask)
    loss = -(targets[torch.from_numpy(rows)] * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.requires_grad], 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def _optimizer(module, schedule: Schedule):
    """AdamW: the new head learns faster than the pretrained encoder; no decay on biases and norms."""
    import torch

    groups: dict[tuple[bool, bool], list] = {}
    for name, parameter in module.named_parameters():
        if not parameter.requires_grad:
            continue
        is_head = name.startswith("head.")
        decays = parameter.ndim > 1
        groups.setdefault((is_head, decays), []).append(parameter)
    return torch.optim.AdamW(
        [
            {
                "params": parameters,
                "lr": schedule.head_learning_rate if is_head else schedule.learning_rate,
                "weight_decay": schedule.weight_decay if decays else 0.0,
            }
            for (is_head, decays), parameters in groups.items()
        ]
    )


def _linear_schedule(optimizer, total_steps: int, warmup_share: float):
    import torch

    warmup = max(1, round(total_steps * warmup_share))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---- calibration ----------------------------------------------------------------------------------
def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T) (T in [0.05, 20])."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.intp)

    def nll(log_t: float) -> float:
        scaled = logits / math.exp(log_t)
        scaled -= scaled.max(axis=1, keepdims=True)
        log_probs = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_probs[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(result.x))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)
