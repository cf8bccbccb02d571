"""The training loop: one Trainer per run, `train()` around it. The CLI is core/train.py; what the run writes to
its store goes through core/telemetry.py (a no-op off rank 0).

Per epoch: reseed, shuffle, then per batch `train_step` (forward, the strategy's loss and balance signals,
learning rates, backward, optimiser step); then `end_epoch` (validation, Shapley values, energy, checkpoint).
At the end `finish` scores the best-on-validation checkpoint on the test split.
"""

from __future__ import annotations

import copy
import gc
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from core import checkpoint, launcher
from core.alloc import keep_freed_memory
from core.build import build_run, resolve_device, seed_everything
from core.data.common import iterate_batches
from core.distributed import Distributed
from core.energy import energy_estimate
from core.errors import TrainingFailed, run_ending
from core.lif import muted
from core.linear_probe import due_mid_epoch, run_probe, timed
from core.optim import grad_norm_tensor, make_optimizer, scheduled_lr
from core.recorder import (
    evaluate,
    evaluate_zeroed,
    probe_indices,
    probe_inputs,
    record_probes,
    shapley_values,
    stack_items,
)
from core.steering_apply import Steering
from core.step_metrics import read_scalars
from core.store.paths import inside_run
from core.taaf import entropy_tensors
from core.telemetry import Telemetry


class StopRequested(Exception):
    """A stop command arrived through the store's control channel."""


class Trainer:
    def __init__(self, cfg: dict[str, Any], run_dir: Path, resume: bool = False, trust_pickles: bool = False) -> None:
        cfg = copy.deepcopy(cfg)  # steering changes this run's copy (core/steering_apply.py)
        self.cfg, t = cfg, cfg["train"]
        keep_freed_memory()  # each step reuses the last one's pages instead of faulting fresh ones in (core/alloc.py)
        if t["threads"]:
            torch.set_num_threads(t["threads"])
        self.dist = Distributed.from_env(t["device"])
        self.run_dir = Path(self.dist.broadcast_object(str(run_dir)))  # ranks' default names may differ
        self.device = self.dist.device if self.dist.enabled else resolve_device(t["device"])
        seed_everything(t["seed"], 0)
        with self.dist.main_first():  # a cold feature cache is built once, by rank 0
            built = build_run(cfg, trust_pickles)
        self.bundle, self.strategy, self.model = built.bundle, built.strategy, built.model
        self.model.to(self.device)
        self.net = self.dist.wrap(self.model, self.strategy.loss_uses_every_parameter)
        groups = self.model.param_groups()
        self.optimizer = make_optimizer([{"params": groups[u], "name": u} for u in ("a", "v", "f")], cfg["optim"])
        self.steps_per_epoch = math.ceil(self.dist.shard_size(len(self.bundle.train)) / cfg["data"]["batch_size"])
        self.total_steps = self.steps_per_epoch * t["epochs"]
        self.epoch, self.step, self.best_val, self.bad_epochs = 0, 0, -1.0, 0
        self.start_loss: float | None = None  # the first step's loss, and whether the not-learning warning was given
        self.warned, self.epoch_losses = False, []
        self.last_checkpoint: dict[str, int] | None = None  # what Continue would start from
        self.telemetry = Telemetry.open(self.run_dir, cfg, resume, self.dist.is_main)
        if resume:
            self.load_checkpoint()
        self.steering = Steering.for_trainer(cfg, self.strategy, self.run_dir, resume, self.step, self.dist)
        probe_idx = probe_indices(self.bundle.val, cfg["record"]["probes"], t["seed"])
        self.probe = stack_items(self.bundle.val, probe_idx)
        self.probe_inputs = probe_inputs(self.bundle.val, probe_idx, self.probe[1])  # events, frames: fixed
        self.layers = [layer.name for layer in self.model.lif_layers()]
        self.linear_probe = run_probe(cfg, self.bundle.train, self.device) if self.dist.is_main else None

    # ---- checkpoints -------------------------------------------------------------------------
    def load_checkpoint(self) -> None:
        self.telemetry.remove_temp_files(self.run_dir)
        path = inside_run(self.run_dir, "checkpoints/last.pt", "checkpoint")
        if not path.exists():
            self.epoch = self.step = 0  # interrupted before the first epoch ended: start over
            self.last_checkpoint = None
        else:
            state = checkpoint.load(path, self.model, self.optimizer)
            self.epoch, self.step = state["epoch"] + 1, state["step"]
            self.last_checkpoint = {"epoch": state["epoch"], "step": state["step"]}
            self.best_val, self.bad_epochs = state["best_val"], state["bad_epochs"]
            self.start_loss, self.warned = state.get("start_loss"), bool(state.get("warned", False))
        self.telemetry.resumed_at(self.epoch, self.step)

    def save_checkpoint(self, best: bool) -> None:
        if not (self.dist.is_main and self.cfg["record"]["checkpoint"]):
            return
        extra = {"epoch": self.epoch, "step": self.step, "best_val": self.best_val, "bad_epochs": self.bad_epochs,
                 "start_loss": self.start_loss, "warned": self.warned}
        folder = self.run_dir / "checkpoints"
        # best.pt first: last.pt is what a resume starts from, and it records this epoch's best_val. A crash
        # between the two leaves the previous last.pt, so the resume replays this epoch and rewrites best.pt
        # (written last, a crash in between left a last.pt whose best.pt never came: a wrong final test score).
        if best:
            checkpoint.save(folder / "best.pt", self.model, self.optimizer, extra)
        checkpoint.save(folder / "last.pt", self.model, self.optimizer, extra)
        # what Continue / --resume starts from (the studio says so)
        self.last_checkpoint = {"epoch": self.epoch, "step": self.step}
        self.telemetry.set_meta("checkpoint", self.last_checkpoint)

    # ---- one step ----------------------------------------------------------------------------
    def set_learning_rates(self, scale: tuple[float, float]) -> dict[str, float]:
        base = scheduled_lr(self.cfg["optim"], self.epoch, self.step, self.total_steps)
        factors = {"a": scale[0], "v": scale[1], "f": 1.0}
        for group in self.optimizer.param_groups:
            group["lr"] = base * factors[group["name"]]
        return {f"lr_{u}": base * f for u, f in factors.items()}

    def train_step(self, audio: torch.Tensor, visual: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        amp = self.cfg["train"]["amp"] and self.device.type == "cuda"
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = self.net(audio, visual)
            loss, scalars = self.strategy.loss(self.model, out, y)
        if self.dist.any(not bool(torch.isfinite(loss))):  # all ranks fail together
            last = self.run_dir / "checkpoints" / "last.pt"
            kept = f"the last checkpoint ({last}) is kept" if last.exists() else "no checkpoint was written yet"
            raise TrainingFailed(
                f"non-finite loss ({float(loss.detach())}) at step {self.step} (epoch {self.epoch}); {kept}")
        # averaged over ranks: they scale lrs / gradients, which must match on every rank
        signals = self.dist.mean_scalars(self.strategy.signals(self.model, out, y, self.epoch))
        lrs = self.set_learning_rates(self.steering.lr_scale(self.strategy.lr_scale(signals, self.epoch)))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.strategy.after_backward(self.model, signals, self.epoch)
        gnorm = {
            "gnorm_a": grad_norm_tensor(self.model.audio_encoder.parameters()),
            "gnorm_v": grad_norm_tensor(self.model.visual_encoder.parameters()),
        }
        self.optimizer.step()
        with torch.no_grad():
            preds = self.strategy.predictions(self.model, out)
            accs = {f"acc_{u}": (p.argmax(-1) == y).float().mean() for u, p in preds.items()}
        entropy = entropy_tensors(out.alpha)  # alpha_entropy_a / _v / _f: has the attention collapsed?
        rates = {f"rate/{layer.name}": layer.rate for layer in self.model.lif_layers()}
        # tensors until here: one device read for all of them (core/step_metrics.py)
        return read_scalars({"loss": loss.detach(), **scalars, **accs, **entropy, **signals, **lrs, **gnorm, **rates})

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, stop_after_epoch: int | None = None) -> dict[str, Any]:
        cfg = self.cfg
        self.telemetry.start({
            "strategy": cfg["strategy"]["name"],
            # AV-Digits' imbalance preset; other datasets have none and go by their name (as the report does)
            "preset": (cfg["data"]["avdigits"]["preset"] if cfg["data"]["dataset"] == "avdigits"
                       else cfg["data"]["dataset"]),
            "dataset": cfg["data"]["dataset"],
            "seed": cfg["train"]["seed"],
            "T": cfg["model"]["T"],
            "input_frames": {"audio": self.bundle.audio_shape[-1],  # event positions count these (probe `events`)
                             "visual": int(self.probe[1].shape[1]) if self.probe[1].dim() == 5 else 1},
            "class_names": self.bundle.class_names,
            "layers": self.layers,
            "v_th": self.model.v_th,
            "pid": os.getpid(),
            "epochs": cfg["train"]["epochs"],
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "device": str(self.device),
        })
        from tqdm import tqdm  # the terminal progress bar

        # a bar on a terminal; into a file (a log, a pipe) its \r redraws would be one giant line: one per epoch
        report = cfg["record"]["progress"] and self.dist.is_main
        bar = tqdm(total=self.total_steps, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not (report and sys.stderr.isatty()))
        start = time.time()
        try:
            while self.epoch < cfg["train"]["epochs"]:
                self.train_epoch(bar, start)
                self.end_epoch()
                if report and bar.disable:
                    print(f"epoch {self.epoch + 1}/{cfg['train']['epochs']}: step {self.step}/{self.total_steps}, "
                          f"loss {self.epoch_losses[-1] if self.epoch_losses else math.nan:.3f}, "
                          f"best fused val acc {self.best_val:.3f}, {time.time() - start:.0f} s", flush=True)
                self.epoch += 1
                if cfg["train"]["patience"] and self.bad_epochs >= cfg["train"]["patience"]:
                    self.telemetry.event("early_stop", f"no better validation accuracy for {self.bad_epochs} epochs")
                    break
                if stop_after_epoch is not None and self.epoch >= stop_after_epoch:
                    raise KeyboardInterrupt  # tests: an interruption exactly at an epoch boundary
        finally:
            bar.close()
        return self.finish()

    def train_epoch(self, bar: Any, start: float) -> None:
        cfg = self.cfg
        seed_everything(cfg["train"]["seed"], self.epoch)
        self.epoch_losses = []
        g = torch.Generator().manual_seed(cfg["train"]["seed"] * 7_919 + self.epoch)
        order = self.dist.shard(torch.randperm(len(self.bundle.train), generator=g))
        self.model.train()
        bs, pin = cfg["data"]["batch_size"], self.device.type == "cuda"
        for audio, visual, y in iterate_batches(self.bundle.train, bs, order, cfg["data"]["num_workers"], pin):
            audio, visual = self.steering.boundary(self.step, self.telemetry, self.dist, audio, visual)
            t0 = time.perf_counter()
            audio, visual, y = (x.to(self.device, non_blocking=True) for x in (audio, visual, y))
            with muted(self.steering.dropped(self.step + 1)):
                scalars = self.dist.mean_scalars(self.train_step(audio, visual, y))
            scalars["samples_per_s"] = len(y) * self.dist.world_size / max(time.perf_counter() - t0, 1e-9)
            scalars["elapsed_s"] = time.time() - start
            self.step += 1
            self.epoch_losses.append(scalars["loss"])
            self.telemetry.after_step(self.step, self.epoch, scalars, self.probe_arrays)
            if self.linear_probe and due_mid_epoch(self.step, cfg["record"]["linear_probes_per_epoch"],
                                                   self.steps_per_epoch):
                self.telemetry.step_scalars(self.step, self.epoch, timed(self.linear_probe, self.model,
                                                                          self.bundle.val))
            bar.update(1)
            bar.set_postfix(epoch=self.epoch + 1, loss=f"{scalars['loss']:.3f}", acc_f=f"{scalars['acc_f']:.2f}")
            if self.telemetry.follow_commands(self.dist.broadcast_command):
                raise StopRequested

    def probe_arrays(self) -> dict[str, Any]:
        """Spikes, membranes, currents, alpha and probabilities of the fixed validation probes, now; a modality
        dropped for the step just trained is muted here too (and said so in `dropped`), as on stage: drop the
        visual input and its raster goes silent. Validation and test accuracy stay on undropped data."""
        audio, visual, y = (x.to(self.device) for x in self.probe)
        dropped = self.steering.dropped(self.step)
        arrays = record_probes(self.model, self.strategy, audio, visual, y, self.cfg["record"]["membrane_neurons"],
                               dropped)
        return {**arrays, **self.probe_inputs}

    def end_epoch(self) -> None:
        """Validation per head, Shapley values, energy, and the epoch's checkpoint."""
        cfg = self.cfg
        if self.dist.is_main:
            t0 = time.time()
            bs, dev, nw = cfg["data"]["batch_size"], self.device, cfg["data"]["num_workers"]
            zeros = [(), ("v",), ("a",), ("a", "v")] if cfg["record"]["shapley"] else [()]
            acc = evaluate_zeroed(self.model, self.strategy, self.bundle.val, bs, dev, zeros, num_workers=nw)
            val = acc[()]
            scalars = {f"val_{k}": v for k, v in val.items()}
            if cfg["record"]["shapley"]:
                scalars.update(shapley_values(val["acc_f"], *(acc[z]["acc_f"] for z in zeros[1:])))
            if cfg["record"]["energy"]:
                audio, visual, _ = (x.to(dev) for x in self.probe)
                scalars.update(energy_estimate(self.model, audio, visual))
            if self.linear_probe:  # also a step scalar: the step scope then holds the whole probe curve
                scalars.update(probed := timed(self.linear_probe, self.model, self.bundle.val))
                self.telemetry.step_scalars(self.step, self.epoch, probed)
            scalars["epoch_time"] = time.time() - t0
            improved = val["acc_f"] > self.best_val
            if improved:
                self.best_val, self.bad_epochs = val["acc_f"], 0
            else:
                self.bad_epochs += 1
            self.telemetry.epoch_scalars(self.step, self.epoch, scalars)
            self.warn_if_not_learning()
            self.save_checkpoint(best=improved)
        self.best_val, self.bad_epochs = self.dist.broadcast_object((self.best_val, self.bad_epochs))

    def warn_if_not_learning(self) -> None:
        """Once per run: the loss of the epoch's last quarter is not below the first step's (a learning rate far
        too large or too small trains to chance without an error). A warning in the log and the store, no more."""
        if self.warned or not self.epoch_losses:
            return
        if self.start_loss is None:
            self.start_loss = self.epoch_losses[0]
        tail = self.epoch_losses[-max(1, len(self.epoch_losses) // 4):]
        now = sum(tail) / len(tail)
        if not (math.isfinite(now) and now >= self.start_loss):
            return
        self.warned = True
        msg = (f"the training loss has not fallen after epoch {self.epoch} ({now:.3f}, first step "
               f"{self.start_loss:.3f}); check optim.lr = {self.cfg['optim']['lr']:g}")
        print(f"warning: {msg}", file=sys.stderr, flush=True)
        self.telemetry.warn(msg)

    def finish(self) -> dict[str, Any]:
        """Test accuracy of the best-on-validation checkpoint (test never chooses anything)."""
        summary: dict[str, Any] = {"best_val_acc_f": self.best_val, "steps": self.step}
        if self.dist.is_main and self.cfg["record"]["checkpoint"]:
            best = inside_run(self.run_dir, "checkpoints/best.pt", "checkpoint")
            if best.exists():
                checkpoint.load(best, self.model, None)
            summary["test"] = evaluate(self.model, self.strategy, self.bundle.test, self.cfg["data"]["batch_size"],
                                       self.device)
            if self.linear_probe:  # per-modality test accuracy comparable across strategies
                summary["test"].update(self.linear_probe(self.model, self.bundle.test))
            self.telemetry.set_meta("test", summary["test"])
        return summary


def train(cfg: dict[str, Any], run_dir: Path, resume: bool = False, stop_after_epoch: int | None = None,
          trust_pickles: bool = False) -> dict:
    """Train one run into `run_dir`, recording status transitions; returns a summary dict.
    `trust_pickles`: the user's --allow-pickle, never a config value."""
    trainer = Trainer(cfg, run_dir, resume=resume, trust_pickles=trust_pickles)
    try:
        summary = trainer.run(stop_after_epoch=stop_after_epoch)
    except StopRequested:
        trainer.telemetry.set_status("stopped")
        note = launcher.continue_note(trainer.last_checkpoint, trainer.step)
        trainer.telemetry.event("stop", f"stopped by request at step {trainer.step}; Continue {note}")
        return {"stopped_at": trainer.step}
    except (KeyboardInterrupt, Exception) as e:
        status, error, raised = run_ending(e, trainer.step, run_dir)
        trainer.telemetry.record_end(status, error=error)
        if raised is e:
            raise
        raise raised from None
    finally:
        trainer.telemetry.shutdown()
        # Free DDP before its process group: a reducer that outlives the group aborts the process at exit.
        trainer.net = trainer.model
        gc.collect()
        trainer.dist.close()
    trainer.telemetry.finish()
    return summary
