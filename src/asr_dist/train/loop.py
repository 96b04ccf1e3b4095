"""The training loop that `accelerate launch` runs on every rank (our own loop, not HF Trainer).

One optimizer step = `accumulation` micro-batches per rank, each under `micro_batch_seconds` of
padded audio; with W ranks the step sees about micro x accumulation x W audio seconds. Each
micro-batch's loss is weighted by its share of the step's utterances, so the gradient is the mean
over utterances however the step is cut into micro-batches.
"""
from __future__ import annotations

import math
import os
import random
import signal
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import RunConfig
from ..data.sampler import DurationBatchSampler
from . import checkpoint as ckpt
from . import restart
from .batches import Collator
from .evaluate import error_rates, eval_groups, transcribe
from .inject import nonfinite_steps
from .monitor import Monitor
from .step import AGREEMENT_SECONDS, OomNeedsRestart, StepExecutor, StepResult, UnrecoverableOOM
from .summary import peak_memory_scalars, run_summary

EXIT_SIGNALLED = 75  # stopped by SIGTERM/SIGUSR1 after writing a checkpoint (EX_TEMPFAIL)
EXIT_NONFINITE = 3  # too many non-finite losses in a row
EXIT_OOM = 4  # out of memory even with one utterance per micro-batch
EXIT_SAVE_FAILED = 5  # a checkpoint or the final model could not be written (disk full, read-only)


@dataclass(frozen=True)
class TrainPlan:
    """The parts of the plan the loop acts on."""

    strategy: str
    micro_batch_seconds: float
    accumulation: int
    precision: str
    gradient_checkpointing: bool
    predicted_peak_bytes: int = 0

    @classmethod
    def from_plan_dict(cls, plan: dict) -> "TrainPlan":
        c = plan["chosen"]
        return cls(c["strategy"], float(c["micro_batch_seconds"]), int(c["gradient_accumulation_steps"]),
                   c["precision"], bool(c["gradient_checkpointing"]), int(c["bytes_per_gpu"]["total"]))


@dataclass
class Counters:
    step: int = 0
    samples_seen: int = 0
    audio_seconds_seen: float = 0.0
    nonfinite_steps: int = 0
    nonfinite_in_row: int = 0
    best_wer: float | None = None
    best_step: int | None = None
    last_eval: dict = field(default_factory=dict)
    train_loss: float | None = None
    wall_seconds_before: float = 0.0  # time spent in earlier (resumed-from) segments


class StopRequest:
    """SIGTERM/SIGUSR1 set a flag; the loop checkpoints at the next step boundary."""

    def __init__(self):
        self.signum = 0
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self._handle)

    def _handle(self, signum, _frame):
        self.signum = signum


def _rng_seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: RunConfig, plan: TrainPlan, accelerator, processor, model, train_utts,
                 eval_utts, run_dir: str, skipped: dict, plan_dict: dict):
        self.cfg, self.plan, self.acc = cfg, plan, accelerator
        self.processor, self.train_utts, self.eval_utts = processor, train_utts, eval_utts
        self.run_dir, self.skipped, self.plan_dict = run_dir, skipped, plan_dict
        self.collate = Collator(processor)
        self.counters = Counters()
        params = [p for p in model.parameters() if p.requires_grad]
        lr = cfg.learning_rate
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.weight_decay)
        from transformers import get_scheduler

        warmup = cfg.warmup_steps if cfg.warmup_steps is not None else max(1, cfg.max_steps // 10)
        # not passed to prepare(): Accelerate would step it once per process per optimizer step
        self.scheduler = get_scheduler(cfg.lr_schedule if cfg.lr_schedule != "constant" else "constant_with_warmup",
                                       optimizer, num_warmup_steps=warmup, num_training_steps=cfg.max_steps)
        self.model, self.optimizer = accelerator.prepare(model, optimizer)
        accelerator.register_for_checkpointing(self.scheduler)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.sampler = DurationBatchSampler([u.duration for u in train_utts], plan.micro_batch_seconds,
                                            seed=cfg.seed, world_size=accelerator.num_processes,
                                            rank=accelerator.process_index)
        self.stop = StopRequest()
        self.inject_nonfinite = nonfinite_steps()
        self.oom_backoffs: list[dict] = []
        self.error: str | None = None
        self.eval_oom_retries = 0
        self.executor = StepExecutor(self, plan.micro_batch_seconds, cfg.micro_batch_limit_seconds)

    # --- state ---------------------------------------------------------------------------------
    def trainer_state(self) -> dict:
        c = self.counters
        return {"step": c.step, "samples_seen": c.samples_seen, "audio_seconds_seen": c.audio_seconds_seen,
                "nonfinite_steps": c.nonfinite_steps, "best_wer": c.best_wer, "best_step": c.best_step,
                "last_eval": c.last_eval, "train_loss": c.train_loss,
                "wall_seconds": c.wall_seconds_before + (time.time() - self.t0),
                "sampler": self.sampler.state_dict(), "plan": self.plan_dict,
                "backoff": self.executor.backoff.state_dict(), "oom_backoffs": self.oom_backoffs}

    def resume_from(self, path: str) -> None:
        self.acc.load_state(path)
        s = ckpt.read_state(path)
        self.counters = Counters(step=s["step"], samples_seen=s["samples_seen"],
                                 audio_seconds_seen=s["audio_seconds_seen"],
                                 nonfinite_steps=s["nonfinite_steps"], best_wer=s["best_wer"],
                                 best_step=s["best_step"], last_eval=s.get("last_eval") or {},
                                 train_loss=s.get("train_loss"),
                                 wall_seconds_before=s.get("wall_seconds", 0.0))
        self.sampler.load_state_dict(s["sampler"])
        self.executor.backoff.load_state_dict(s.get("backoff", {}))
        self.oom_backoffs = list(s.get("oom_backoffs", []))

    def save(self) -> str:
        return ckpt.save_checkpoint(self.acc, self.run_dir, self.counters.step, self.trainer_state(),
                                    self.cfg.save_total_limit)

    # --- one optimizer step ----------------------------------------------------------------------
    def train_step(self) -> StepResult:
        """One optimizer step over `accumulation` planned micro-batches per rank (train/step.py
        re-cuts them on out-of-memory errors without changing the step's samples)."""
        groups = [self.sampler.next_group() for _ in range(self.plan.accumulation)]
        result = self.executor.run(groups)
        if result.finite and not self.acc.optimizer_step_was_skipped:
            self.scheduler.step()
        return result

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate(self) -> dict:
        acc = self.acc
        utts = self.eval_utts
        if self.cfg.eval_max_utterances:
            utts = utts[: self.cfg.eval_max_utterances]
        budget = max(self.plan.micro_batch_seconds, 1.0)
        if self.executor.forward_collectives:  # ZeRO-3: an OOM cannot be halved in place, stay below the last one
            budget = min(budget, max(self.executor.backoff.smallest_limit(), 1.0))
        shards = [list(range(r, len(utts), acc.num_processes)) for r in range(acc.num_processes)]
        passes = max(len(eval_groups([utts[i] for i in shard], budget)) for shard in shards)
        mine = shards[acc.process_index]
        hyps = transcribe(self.model, self.processor, [utts[i] for i in mine], device=acc.device,
                          budget_seconds=budget, autocast=acc.autocast, forward_passes=passes,
                          filler=utts[0] if utts else None, on_oom=self._eval_oom)
        pairs = list(zip(mine, hyps))
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            pairs = gather_object(pairs)
        by_index = dict(pairs)  # one hypothesis per utterance, whatever the rank count
        refs = [utts[i].text for i in sorted(by_index)]
        result = error_rates(refs, [by_index[i] for i in sorted(by_index)])
        result["utterances"] = len(by_index)
        return result

    def _eval_oom(self, batch: list) -> None:
        """An evaluation batch ran out of memory on this rank. The other ranks are in their own
        evaluation: halve it and go on, except when that cannot work (train/step.py)."""
        seconds, count = sum(u.duration for u in batch), len(batch)
        if count == 1 or self.executor.forward_collectives:
            self.executor.leave_after_eval_oom(batch)
        self.eval_oom_retries += 1
        print(f"eval (rank {self.acc.process_index}): out of memory on {count} utterances ({seconds:.1f} s); "
              f"evaluating them in halves", flush=True)

    def maybe_best(self, result: dict) -> bool:
        c = self.counters
        wer = result["wer"]
        if math.isnan(wer) or (c.best_wer is not None and wer >= c.best_wer):
            return False
        c.best_wer, c.best_step = wer, c.step
        ckpt.save_model_folder(self.acc, self.model, self.processor,
                               os.path.join(self.run_dir, "checkpoint-best"),
                               extra={"step": c.step, "wer": wer, "cer": result["cer"]})
        return True

    # --- the loop ------------------------------------------------------------------------------
    def run(self, resume_path: str | None) -> tuple[dict, int]:
        acc, cfg, c = self.acc, self.cfg, self.counters
        self.t0 = time.time()
        if resume_path:
            self.resume_from(resume_path)
            c = self.counters
        else:
            _rng_seed_all(cfg.seed + acc.process_index)
        start_step = self.start_step = c.step
        monitor = Monitor(acc, os.path.join(self.run_dir, "logs"), cfg.max_steps, start_step)
        if resume_path:
            monitor.line(f"resumed from {resume_path} at step {start_step}")
        restart.adopt_records(self, monitor)
        monitor.line(f"data: {len(self.train_utts)} training and {len(self.eval_utts)} evaluation utterances kept"
                     + (f"; skipped: {', '.join(f'{k}={v}' for k, v in sorted(self.skipped.items()))}"
                        if self.skipped else "; none skipped"))
        exit_code = 0
        seg_audio = 0.0
        t_seg = time.time()
        window = {"loss": 0.0, "n": 0, "audio": 0.0, "utts": 0, "t": time.time()}
        try:
            while c.step < cfg.max_steps:
                t_step = time.time()
                try:
                    r = self.train_step()
                except UnrecoverableOOM as exc:
                    monitor.line(f"error: {exc}")
                    monitor.line(f"stopping at step {c.step}; the last checkpoint in {self.run_dir} is intact")
                    self.error = str(exc)
                    exit_code = EXIT_OOM
                    break
                loss, grad_norm, finite, n_utts, seconds, stop = (r.loss, r.grad_norm, r.finite, r.utterances,
                                                                  r.audio_seconds, r.stop)
                c.step += 1
                for event in r.backoffs:
                    self.oom_backoffs.append(event)
                    monitor.line(f"step {c.step}: out of memory on rank {event['rank']} with a "
                                 f"{event['from_batch_seconds']:g} s micro-batch; every rank now cuts micro-batches "
                                 f"to {event['to_batch_seconds']:g} s (same samples, same effective batch)")
                    monitor.scalars(c.step, {"oom/limit_seconds": event["to_batch_seconds"]})
                if not finite:
                    c.nonfinite_steps += 1
                    c.nonfinite_in_row += 1
                    monitor.line(f"step {c.step}: non-finite loss on some rank; step skipped "
                                 f"({c.nonfinite_in_row} in a row)")
                    if c.nonfinite_in_row >= cfg.max_nonfinite_in_row:
                        monitor.line(f"aborting: {c.nonfinite_in_row} non-finite losses in a row "
                                     f"(max_nonfinite_in_row={cfg.max_nonfinite_in_row}); last good "
                                     f"checkpoint kept in {self.run_dir}")
                        exit_code = EXIT_NONFINITE
                        break
                else:
                    c.nonfinite_in_row = 0
                c.samples_seen += n_utts
                c.audio_seconds_seen += seconds
                seg_audio += seconds
                window["loss"] += loss
                window["n"] += 1
                window["audio"] += seconds
                window["utts"] += n_utts
                if c.step % cfg.log_every == 0 or c.step == cfg.max_steps:
                    elapsed = max(1e-9, time.time() - window["t"])
                    c.train_loss = window["loss"] / max(1, window["n"])
                    aps = window["audio"] / elapsed
                    monitor.scalars(c.step, {
                        "train/loss": c.train_loss, "train/lr": self.scheduler.get_last_lr()[0],
                        "train/grad_norm": grad_norm, "perf/audio_seconds_per_second": aps,
                        "perf/samples_per_second": window["utts"] / elapsed,
                        "perf/micro_batch_seconds": self.plan.micro_batch_seconds,
                        "perf/step_seconds": time.time() - t_step,
                        "perf/agreement_seconds_per_step": AGREEMENT_SECONDS[0] / max(1, c.step - start_step),
                        **peak_memory_scalars(acc)})
                    monitor.postfix.update(loss=f"{c.train_loss:.3f}", aud_s=f"{aps:.0f}/s")
                    window = {"loss": 0.0, "n": 0, "audio": 0.0, "utts": 0, "t": time.time()}
                if self.eval_utts and (c.step % cfg.eval_every == 0 or c.step == cfg.max_steps):
                    result = self.evaluate()
                    c.last_eval = {"step": c.step, **result}
                    best = self.maybe_best(result)
                    monitor.scalars(c.step, {"eval/wer": result["wer"], "eval/cer": result["cer"]})
                    monitor.postfix.update(wer=f"{result['wer']:.3f}")
                    monitor.line(f"eval step {c.step}: WER {result['wer']:.4f}  CER {result['cer']:.4f}  "
                                 f"({result['utterances']} utterances){'  new best' if best else ''}")
                monitor.advance()
                if c.step % cfg.save_every == 0 or (stop and c.step < cfg.max_steps):
                    path = self.save()  # CheckpointWriteError: handled below
                    if stop:
                        monitor.line(f"signal received: checkpoint written to {path}; exiting with "
                                     f"{EXIT_SIGNALLED} (resume with --resume auto)")
                        exit_code = EXIT_SIGNALLED
                        break
        except ckpt.CheckpointWriteError as exc:
            exit_code = self._write_failed(monitor, exc)
        except OomNeedsRestart as exc:
            self.error = restart.record_and_say(self.run_dir, exc)
            exit_code = EXIT_OOM
            if acc.num_processes > 1:
                raise  # the other ranks wait in a collective: this rank joins none (entry.py)
        finally:
            monitor.close()
        wall = time.time() - t_seg
        c.wall_seconds_before += wall
        if exit_code == 0:
            try:
                ckpt.save_final_model(acc, self.model, self.processor, self.run_dir)
            except ckpt.CheckpointWriteError as exc:
                exit_code = self._write_failed(monitor, exc)
        summary = run_summary(self, wall, seg_audio, resume_path, exit_code)
        return summary, exit_code

    def _write_failed(self, monitor, exc) -> int:
        self.error = str(exc)
        monitor.line(f"error: {exc}")
        last = ckpt.list_checkpoints(self.run_dir)
        monitor.line(f"stopped at step {self.counters.step}; "
                     + (f"resume from {last[-1][1]} once there is room (--resume auto)" if last else "no checkpoint yet"))
        return EXIT_SAVE_FAILED
