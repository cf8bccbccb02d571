"""The training loop and its CLI.

    python -m core.train --config configs/taaf.toml [--set key=value ...] [--run-dir DIR]
    python -m core.train --resume runs/<name>
    torchrun --nproc-per-node N -m core.train --config ...        (rank 0 writes the store)

Every step is written to the run store (core/store/) while training, so the studio can watch it.
"""

from __future__ import annotations

import argparse
import sys

from core.config import load_config
from core.errors import TAAFError


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m core.train", description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="TOML config (configs/*.toml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    ap.add_argument("--run-dir", help="run directory (default: <record.runs_dir>/<strategy>-<preset>-s<seed>-<time>)")
    ap.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    return ap


if __name__ == "__main__":  # --help, argument and config errors answer before torch is imported (3-10 s)
    _args = build_parser().parse_args()
    if not _args.resume:
        if not _args.config:
            build_parser().error("--config is required (or --resume RUN_DIR)")
        try:
            load_config(_args.config, _args.set)
        except TAAFError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

import gc  # the heavy imports from here on come after the early argument check above
import math
import os
import random
import signal
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import checkpoint
from core.config import saved_run_config
from core.data import build_datasets
from core.data.common import iterate_batches
from core.distributed import Distributed
from core.energy import energy_estimate
from core.errors import DiskFullError, TAAFError, is_disk_full
from core.model import MultimodalSNN
from core.recorder import evaluate, evaluate_zeroed, probe_indices, record_probes, shapley_values, stack_items
from core.store import RunReader, RunWriter
from core.store.paths import inside_run, remove_temp_files
from core.strategies import make_strategy
from core.taaf import entropy_scalars


class TrainingFailed(TAAFError):
    """The run cannot go on (non-finite loss): the store says failed, the last checkpoint is kept."""


class StopRequested(Exception):
    """A stop command arrived through the store's control channel."""


def seed_everything(seed: int, epoch: int) -> None:
    """Reseeded at every epoch so a run resumed from an epoch checkpoint replays the same randomness."""
    s = seed * 100_003 + epoch
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TAAFError(f"train.device = {name!r}: CUDA is not available on this machine (use 'cpu' or 'auto')")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TAAFError(f"train.device = {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise TAAFError(f"train.device = {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type not in ("cpu", "cuda"):
        raise TAAFError(f"train.device = {name!r}: expected auto, cpu, cuda or cuda:N")
    return device


def default_run_name(cfg: dict[str, Any]) -> str:
    preset = cfg["data"]["avdigits"]["preset"] if cfg["data"]["dataset"] == "avdigits" else cfg["data"]["dataset"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{cfg['strategy']['name']}-{preset}-s{cfg['train']['seed']}-{stamp}"


class Trainer:
    def __init__(self, cfg: dict[str, Any], run_dir: Path, resume: bool = False) -> None:
        self.cfg, self.run_dir = cfg, Path(run_dir)
        t = cfg["train"]
        if t["threads"]:
            torch.set_num_threads(t["threads"])
        self.dist = Distributed.from_env(t["device"])
        self.run_dir = Path(self.dist.broadcast_object(str(self.run_dir)))  # ranks' default names may differ
        self.device = self.dist.device if self.dist.enabled else resolve_device(t["device"])
        seed_everything(t["seed"], 0)
        with self.dist.main_first():  # a cold feature cache is built once, by rank 0
            self.bundle = build_datasets(cfg)
        self.strategy = make_strategy(cfg)
        b = self.bundle
        self.model = MultimodalSNN(cfg["model"], b.audio_shape, b.visual_shape, b.num_classes, self.strategy.fusion)
        self.model.to(self.device)
        self.net = self.dist.wrap(self.model, self.strategy.loss_uses_every_parameter)
        groups = self.model.param_groups()
        params = [{"params": groups[u], "name": u} for u in ("a", "v", "f")]
        self.optimizer = make_optimizer(params, cfg["optim"])
        self.steps_per_epoch = math.ceil(self.dist.shard_size(len(b.train)) / cfg["data"]["batch_size"])
        self.total_steps = self.steps_per_epoch * t["epochs"]
        self.epoch, self.step, self.best_val, self.bad_epochs = 0, 0, -1.0, 0
        self.start_loss: float | None = None  # the first step's loss, and whether the not-learning warning was given
        self.warned, self.epoch_losses = False, []
        self.writer: RunWriter | None = None
        self.array_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-writer")
        self.pending_arrays: Future | None = None
        if self.dist.is_main:
            self.writer = RunWriter.open(self.run_dir) if resume else RunWriter.create(self.run_dir, cfg)
        if resume:
            self.load_checkpoint()
        probes = probe_indices(b.val, cfg["record"]["probes"], t["seed"])
        self.probe = stack_items(b.val, probes)
        self.layers = [layer.name for layer in self.model.lif_layers()]

    # ---- checkpoints -------------------------------------------------------------------------
    def load_checkpoint(self) -> None:
        if self.writer is not None:  # what a killed trainer was writing: never read, and it would pile up
            removed = remove_temp_files(self.run_dir)
            if removed:
                self.writer.log_event("cleanup", f"removed the interrupted run's temporary files: {', '.join(removed)}")
        path = inside_run(self.run_dir, "checkpoints/last.pt", "checkpoint")
        if not path.exists():
            self.epoch = self.step = 0  # interrupted before the first epoch ended: start over
        else:
            state = checkpoint.load(path, self.model, self.optimizer)
            self.epoch, self.step = state["epoch"] + 1, state["step"]
            self.best_val, self.bad_epochs = state["best_val"], state["bad_epochs"]
            self.start_loss, self.warned = state.get("start_loss"), bool(state.get("warned", False))
        if self.writer is not None:
            self.writer.truncate_after(self.step)
            self.writer.log_event("resume", f"resumed at epoch {self.epoch}, step {self.step}")

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
        if self.writer is not None:  # what Continue / --resume starts from (the studio says so)
            self.writer.set_meta("checkpoint", {"epoch": self.epoch, "step": self.step})

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
        lrs = self.set_learning_rates(self.strategy.lr_scale(signals, self.epoch))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.strategy.after_backward(self.model, signals, self.epoch)
        gnorm = {
            "gnorm_a": grad_norm(self.model.audio_encoder.parameters()),
            "gnorm_v": grad_norm(self.model.visual_encoder.parameters()),
        }
        self.optimizer.step()
        with torch.no_grad():
            preds = self.strategy.predictions(self.model, out)
            accs = {f"acc_{u}": float((p.argmax(-1) == y).float().mean()) for u, p in preds.items()}
        entropy = entropy_scalars(out.alpha)  # alpha_entropy_a / _v / _f: has the attention collapsed?
        rates = {f"rate/{layer.name}": float(layer.rate) for layer in self.model.lif_layers()}
        return {"loss": float(loss.detach()), **scalars, **accs, **entropy, **signals, **lrs, **gnorm, **rates}

    # ---- control -----------------------------------------------------------------------------
    def check_control(self) -> None:
        """Pause (blocking until resume) or stop, as asked through the store; all ranks follow rank 0."""
        command = self.writer.poll_command() if self.writer is not None else None
        command = self.dist.broadcast_command(command)
        if command == "stop":
            raise StopRequested
        if command != "pause":
            return
        self.set_status("paused")
        while True:
            time.sleep(0.2)
            command = self.writer.poll_command() if self.writer is not None else None
            if self.writer is not None:
                self.writer.heartbeat()
            command = self.dist.broadcast_command(command)
            if command == "stop":
                raise StopRequested
            if command == "resume":
                self.set_status("running")
                return

    def set_status(self, status: str, error: str | None = None) -> None:
        if self.writer is not None:
            self.flush_arrays()
            self.writer.set_status(status, error=error)

    def record_end(self, status: str, error: str | None = None) -> None:
        """set_status on the way out of a failure: best effort (on a full disk it may fail too), never raising
        over the error that ended the run."""
        try:
            self.set_status(status, error=error)
        except Exception:  # noqa: BLE001 (the first error is the one reported)
            try:
                if self.writer is not None:
                    self.writer.set_status(status, error=error)
            except Exception:  # noqa: BLE001
                pass

    # ---- the loop ----------------------------------------------------------------------------
    def run(self, stop_after_epoch: int | None = None) -> dict[str, Any]:
        cfg, w = self.cfg, self.writer
        if w is not None:
            w.set_meta("strategy", cfg["strategy"]["name"])
            w.set_meta("preset", cfg["data"]["avdigits"]["preset"] if cfg["data"]["dataset"] == "avdigits" else "")
            w.set_meta("dataset", cfg["data"]["dataset"])
            w.set_meta("seed", cfg["train"]["seed"])
            w.set_meta("T", cfg["model"]["T"])
            w.set_meta("class_names", self.bundle.class_names)
            w.set_meta("layers", self.layers)
            w.set_meta("v_th", self.model.v_th)
            w.set_meta("pid", os.getpid())
            w.set_meta("epochs", cfg["train"]["epochs"])
            w.set_meta("steps_per_epoch", self.steps_per_epoch)
            w.set_meta("total_steps", self.total_steps)
            w.set_meta("device", str(self.device))
            w.set_status("running")
        from tqdm import tqdm  # the terminal progress bar

        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not (cfg["record"]["progress"] and self.dist.is_main),
            unit="step",
            dynamic_ncols=True,
        )
        start = time.time()
        try:
            while self.epoch < cfg["train"]["epochs"]:
                self.train_epoch(bar, start)
                self.end_epoch()
                self.epoch += 1
                if cfg["train"]["patience"] and self.bad_epochs >= cfg["train"]["patience"]:
                    if w is not None:
                        w.log_event("early_stop", f"no better validation accuracy for {self.bad_epochs} epochs")
                    break
                if stop_after_epoch is not None and self.epoch >= stop_after_epoch:
                    raise KeyboardInterrupt  # tests: an interruption exactly at an epoch boundary
        finally:
            bar.close()
        return self.finish()

    def train_epoch(self, bar: Any, start: float) -> None:
        cfg, w = self.cfg, self.writer
        seed_everything(cfg["train"]["seed"], self.epoch)
        self.epoch_losses = []
        g = torch.Generator().manual_seed(cfg["train"]["seed"] * 7_919 + self.epoch)
        order = torch.randperm(len(self.bundle.train), generator=g)
        order = self.dist.shard(order)
        self.model.train()
        bs, every = cfg["data"]["batch_size"], cfg["record"]["every_steps"]
        last_beat = time.time()
        pin = self.device.type == "cuda"
        for audio, visual, y in iterate_batches(self.bundle.train, bs, order, cfg["data"]["num_workers"], pin):
            t0 = time.perf_counter()
            audio, visual, y = (x.to(self.device, non_blocking=True) for x in (audio, visual, y))
            scalars = self.train_step(audio, visual, y)
            scalars = self.dist.mean_scalars(scalars)
            scalars["samples_per_s"] = len(y) * self.dist.world_size / max(time.perf_counter() - t0, 1e-9)
            scalars["elapsed_s"] = time.time() - start
            self.step += 1
            self.epoch_losses.append(scalars["loss"])
            if w is not None:
                w.log_scalars(self.step, self.epoch, scalars, scope="step")
                if self.step % every == 0 or self.step == 1:
                    self.record_probe()
                if time.time() - last_beat > 2:
                    w.heartbeat()
                    last_beat = time.time()
            bar.update(1)
            bar.set_postfix(epoch=self.epoch + 1, loss=f"{scalars['loss']:.3f}", acc_f=f"{scalars['acc_f']:.2f}")
            self.check_control()

    def record_probe(self) -> None:
        audio, visual, y = (x.to(self.device) for x in self.probe)
        arrays = record_probes(self.model, self.strategy, audio, visual, y, self.cfg["record"]["membrane_neurons"])
        # Compressing and writing the arrays happens on a background thread (zlib and file I/O release the
        # GIL): the training loop only waits if the previous probe is still being written.
        self.flush_arrays()
        self.pending_arrays = self.array_thread.submit(self.writer.log_arrays, self.step, self.epoch, arrays, "probe")

    def flush_arrays(self) -> None:
        """Wait for the probe being written (and raise its error, if any)."""
        if self.pending_arrays is not None:
            pending, self.pending_arrays = self.pending_arrays, None
            pending.result()

    def end_epoch(self) -> None:
        """Validation per head, Shapley values, energy, and the epoch's checkpoint."""
        cfg, w = self.cfg, self.writer
        improved = False
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
            scalars["epoch_time"] = time.time() - t0
            improved = val["acc_f"] > self.best_val
            if improved:
                self.best_val, self.bad_epochs = val["acc_f"], 0
            else:
                self.bad_epochs += 1
            if w is not None:
                w.log_scalars(self.step, self.epoch, scalars, scope="epoch")
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
        if self.writer is not None:
            self.writer.log_event("warning", msg)
            self.writer.set_meta("warnings", [msg])

    def finish(self) -> dict[str, Any]:
        """Test accuracy of the best-on-validation checkpoint (test never chooses anything)."""
        summary: dict[str, Any] = {"best_val_acc_f": self.best_val, "steps": self.step}
        if self.dist.is_main and self.cfg["record"]["checkpoint"]:
            best = inside_run(self.run_dir, "checkpoints/best.pt", "checkpoint")
            if best.exists():
                checkpoint.load(best, self.model, None)
            bs = self.cfg["data"]["batch_size"]
            summary["test"] = evaluate(self.model, self.strategy, self.bundle.test, bs, self.device)
            if self.writer is not None:
                self.writer.set_meta("test", summary["test"])
        return summary


def make_optimizer(params: Any, optim: dict[str, Any]) -> torch.optim.Optimizer:
    """`optim.name` = adam or sgd (momentum and weight decay from the config: OGM-GE's reference recipe)."""
    if optim["name"] == "adam":
        return torch.optim.Adam(params, lr=optim["lr"], weight_decay=optim["weight_decay"])
    return torch.optim.SGD(params, lr=optim["lr"], momentum=optim["momentum"], weight_decay=optim["weight_decay"])


def scheduled_lr(optim: dict[str, Any], epoch: int, step: int, total_steps: int) -> float:
    """Base learning rate at this point of the run; a function of (epoch, step) only, so --resume agrees."""
    if optim["scheduler"] == "step":
        return optim["lr"] * optim["gamma"] ** (epoch // optim["step_size"])
    if optim["scheduler"] == "cosine":  # from lr down to 0 at the last step
        return optim["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(step / max(total_steps, 1), 1.0)))
    return optim["lr"]


def grad_norm(params: Any) -> float:
    # one device sync for the whole encoder (a float() per parameter stalls a GPU ~100 times a step)
    grads = [p.grad.detach() for p in params if p.grad is not None]
    return float(torch.nn.utils.get_total_norm(grads)) if grads else 0.0


def train(cfg: dict[str, Any], run_dir: Path, resume: bool = False, stop_after_epoch: int | None = None) -> dict:
    """Train one run into `run_dir`, recording status transitions; returns a summary dict."""
    trainer = Trainer(cfg, run_dir, resume=resume)
    try:
        summary = trainer.run(stop_after_epoch=stop_after_epoch)
    except StopRequested:
        trainer.set_status("stopped")
        if trainer.writer is not None:
            trainer.writer.log_event("stop", f"stopped by request at step {trainer.step}; {continue_note(trainer)}")
        return {"stopped_at": trainer.step}
    except KeyboardInterrupt:
        trainer.record_end("interrupted", error=f"interrupted at step {trainer.step}; resume with --resume")
        raise
    except (TrainingFailed, DiskFullError) as e:
        trainer.record_end("failed", error=str(e))
        raise
    except Exception as e:
        if is_disk_full(e):  # a write this code does not wrap itself (the trainer's own files)
            full = DiskFullError(f"no space left on device while writing {getattr(e, 'filename', None) or run_dir}")
            trainer.record_end("failed", error=str(full))
            raise full from None
        trainer.record_end("failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        trainer.array_thread.shutdown(wait=True)
        # Free DDP before its process group: a reducer that outlives the group aborts the process at exit.
        trainer.net = trainer.model
        gc.collect()
        trainer.dist.close()
    trainer.set_status("finished")
    if trainer.writer is not None:
        trainer.writer.close()
    return summary


def continue_note(trainer: Trainer) -> str:
    """What Continue (--resume) will do: it starts from the last epoch checkpoint, so the steps after it are
    trained again (a Stop does not checkpoint mid-epoch)."""
    if not (trainer.run_dir / "checkpoints" / "last.pt").exists():
        return "Continue starts over from step 0 (no epoch has ended yet)"
    done = trainer.epoch  # the epoch in progress; last.pt holds the end of the one before
    return f"Continue starts from the checkpoint at the end of epoch {done - 1} and redoes the steps after it"


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    # Ctrl-C and SIGTERM (a killed launcher, a job scheduler) end the run the same way: marked interrupted.
    # SIGINT is set explicitly: a process started in the background inherits it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if args.resume:
            run_dir = Path(args.resume)
            cfg = saved_run_config(RunReader(run_dir).config(), str(run_dir / "config.json"), args.set)
            resume = True
        else:
            if not args.config:
                ap.error("--config is required (or --resume RUN_DIR)")
            cfg = load_config(args.config, args.set)
            run_dir = Path(args.run_dir) if args.run_dir else Path(cfg["record"]["runs_dir"]) / default_run_name(cfg)
            resume = False
        summary = train(cfg, run_dir, resume=resume)
    except KeyboardInterrupt:
        print("\ninterrupted: run marked interrupted; continue with --resume", file=sys.stderr)
        return 130
    except TAAFError as e:  # config, data, store and checkpoint errors: one line
        print(f"error: {e}", file=sys.stderr)
        return 1 if isinstance(e, (TrainingFailed, DiskFullError)) else 2
    except Exception as e:
        if is_disk_full(e):  # e.g. creating the run store on a full disk, before train() takes over
            print(f"error: no space left on device while writing {getattr(e, 'filename', None) or 'the run folder'}",
                  file=sys.stderr)
            return 1
        traceback.print_exc()
        return 1
    if "test" in summary:
        t = summary["test"]
        print(f"run: {run_dir}")
        print(f"test accuracy  fused {t['acc_f']:.3f}  audio {t['acc_a']:.3f}  visual {t['acc_v']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
