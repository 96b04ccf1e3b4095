"""One optimizer step, with out-of-memory recovery inside the step (no restart of the loop).

Every micro-batch's loss is weighted by its share of the rank's utterances in the step, so the
gradient is the same however the step is cut. Two ways to run the micro-batches:

* local (single process, DDP): every micro-batch accumulates gradients locally (DDP `no_sync`),
  then one flat all-reduce averages them across ranks ("forced sync", as Composer does for its
  automatic micro-batching). No collective runs inside forward or backward, so an OOM anywhere in
  them is recoverable by the failing rank alone (forward: re-cut the rest of its step; backward:
  zero its gradients and re-run its step cut smaller); the one per-step exchange tells every
  rank, and all adopt the smaller limit from then on.
* lockstep (DeepSpeed): ZeRO reduces gradients inside backward, so ranks must run the same number
  of backward passes. After each forward the ranks exchange an OOM flag; on an OOM every rank
  drops that forward, re-cuts the rest of its step under the new limit, pads to the same count
  with zero-weight micro-batches, and continues. Gradients of finished micro-batches stay.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch

from .backoff import BackoffState, bucket_of, padded_seconds, split
from .inject import OomInjection, install_oom_injection
from .restart import describe


class UnrecoverableOOM(RuntimeError):
    """Even one utterance per micro-batch runs out of memory (on some rank)."""


class OomNeedsRestart(RuntimeError):
    """An OOM while the other ranks are inside a collective this rank will never join (ZeRO-3
    gathers parameters inside forward; DeepSpeed reduces gradients inside backward): the step
    cannot be re-cut in place. `event` holds the limit learned; the rank records it and leaves,
    and the launcher restarts from the last checkpoint with it (train/restart.py)."""

    def __init__(self, event: dict, fatal: str = ""):
        self.event, self.fatal = event, fatal
        super().__init__(f"rank {event['rank']}: {fatal}" if fatal else describe(event))


@dataclass
class StepResult:
    loss: float  # mean over ranks of the utterance-weighted loss
    grad_norm: float | None
    finite: bool
    utterances: int  # over all ranks
    audio_seconds: float  # over all ranks
    stop: bool  # a rank received SIGTERM/SIGUSR1
    backoffs: list[dict] = field(default_factory=list)  # events adopted this step


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError)


AGREEMENT_SECONDS = [0.0]  # time spent in the agreement collectives (benchmarks read it)


def gather_rows(acc, row: list[float]) -> list[list[float]]:
    """Every rank's small row of numbers, in one collective (none with a single process)."""
    if acc.num_processes == 1:
        return [row]
    import time

    import torch.distributed as dist

    t0 = time.perf_counter()
    mine = torch.tensor(row, dtype=torch.float64, device=acc.device)
    out = torch.empty(acc.num_processes * len(row), dtype=torch.float64, device=acc.device)
    dist.all_gather_into_tensor(out, mine)
    rows = out.view(acc.num_processes, len(row)).tolist()
    AGREEMENT_SECONDS[0] += time.perf_counter() - t0
    return rows


class StepExecutor:
    def __init__(self, trainer, planned_seconds: float, start_limit: float | None = None):
        self.t = trainer
        self.acc = trainer.acc
        self.durations = [u.duration for u in trainer.train_utts]
        self.backoff = BackoffState(planned_seconds, probe_after=trainer.cfg.oom_probe_after)
        if start_limit is not None and start_limit < planned_seconds:
            self.backoff.adopt(start_limit, 1)
        self.lockstep = self.acc.distributed_type.name == "DEEPSPEED"
        # ZeRO-3 all-gathers parameters inside forward: the ranks cannot agree mid-forward
        self.forward_collectives = self.lockstep and trainer.plan.strategy.startswith("zero3")
        self.ddp = self.acc.num_processes > 1 and not self.lockstep
        install_oom_injection(OomInjection.from_env(), self.acc, self.acc.unwrap_model(trainer.model),
                              lambda: trainer.counters.step + 1)

    # --- pieces ---------------------------------------------------------------------------------
    def _loss(self, idx: list[int], weight: float):
        t = self.t
        batch = t.collate([t.train_utts[i] for i in idx])
        loss = t.model(**batch.model_inputs(self.acc.device)).loss
        if t.counters.step + 1 in t.inject_nonfinite:
            loss = loss * float("nan")
        return loss, batch.audio_seconds

    def _free(self) -> None:
        self.t.optimizer.zero_grad(set_to_none=True)
        self._empty_cache()

    def _event(self, rank: int, before: float, after: float) -> dict:
        return {"step": self.t.counters.step + 1, "rank": rank, "from_batch_seconds": round(before, 3),
                "to_batch_seconds": round(after, 3)}

    def _fatal(self, rows: list[list[float]], fatal_col: int, messages: str) -> None:
        bad = [r for r, row in enumerate(rows) if row[fatal_col] > 0]
        raise UnrecoverableOOM(f"rank {bad[0]}: {messages}" if messages else
                               f"rank {bad[0]} ran out of memory on a single utterance")

    def _single_utterance_message(self, idx: list[int]) -> str:
        u = self.t.train_utts[idx[0]]
        return (f"out of memory on one utterance alone: {u.audio_path} ({u.duration:.2f} s); the plan predicted "
                f"{self.t.plan.predicted_peak_bytes / 2**30:.2f} GiB per device. Try --gradient-checkpointing on, "
                f"--strategy zero3 or zero3-offload, or --max-duration below {u.duration:.1f}")

    # --- the step ---------------------------------------------------------------------------------
    def run(self, groups: list[list[int]]) -> StepResult:
        n_step = sum(len(g) for g in groups)
        return self._lockstep(groups, n_step) if self.lockstep else self._local(groups, n_step)

    def _local(self, groups, n_step) -> StepResult:
        """Single/DDP: all micro-batches accumulate locally, so a rank recovers on its own: an OOM
        in forward re-cuts that micro-batch and the rest of the step (gradients so far stay); an
        OOM in backward (partial gradients) re-runs the rank's whole step cut smaller. The one
        exchange at the end tells every rank the new limit, which all adopt."""
        acc, t = self.acc, self.t
        pending = [p for g in groups for p in split(g, self.durations, self.backoff)]
        loss_sum = seconds = 0.0
        finite, fatal, message = True, False, ""
        ooms: list[tuple[float, float, float]] = []  # (failed padded seconds, longest, new limit)

        def on_oom(idx):
            nonlocal fatal, message
            failed, longest = padded_seconds(idx, self.durations), max(self.durations[i] for i in idx)
            if len(idx) == 1:
                fatal, message = True, self._single_utterance_message(idx)
                return False
            ooms.append((failed, longest, self.backoff.on_oom(failed, longest)))
            self._empty_cache()
            return True

        while pending:
            idx = pending.pop(0)
            weight = len(idx) / n_step
            with (acc.no_sync(t.model) if self.ddp else contextlib.nullcontext()):
                try:
                    loss, secs = self._loss(idx, weight)
                except torch.OutOfMemoryError:
                    if not on_oom(idx):
                        break
                    rest = idx + [i for p in pending for i in p]  # nothing of this one reached the gradients
                    pending = split(rest, self.durations, self.backoff)
                    continue
                if not bool(torch.isfinite(loss.detach())):
                    finite = False
                    break
                try:
                    acc.backward(loss * weight)
                except torch.OutOfMemoryError:
                    del loss
                    if not on_oom(idx):
                        break
                    # partial gradients of this micro-batch are in .grad: redo the rank's step
                    t.optimizer.zero_grad(set_to_none=True)
                    loss_sum = seconds = 0.0
                    pending = [p for g in groups for p in split(g, self.durations, self.backoff)]
                    continue
            loss_sum += float(loss.detach()) * weight
            seconds += secs
        first = ooms[0] if ooms else (0.0, 0.0, 0.0)
        smallest = min(ooms, key=lambda o: o[2]) if ooms else (0.0, 0.0, 0.0)
        rows = gather_rows(acc, [0.0 if finite else 1.0, n_step, seconds, loss_sum, float(t.stop.signum > 0),
                                  1.0 if fatal else 0.0, float(len(ooms)), smallest[2], smallest[1], first[0]])
        if any(r[5] for r in rows):
            self._free()
            self._fatal(rows, 5, message)
        events = []
        for r, row in enumerate(rows):
            if row[6]:
                events.append(self._event(r, row[9], row[7]))
                self.backoff.adopt(row[7], bucket_of(row[8]))
        return self._finish(rows, events)

    def _empty_cache(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _lockstep(self, groups, n_step) -> StepResult:
        acc, t = self.acc, self.t
        events: list[dict] = []
        engine_gas = t.model.gradient_accumulation_steps()  # DeepSpeed divides the loss by this
        filler = groups[0][:1]
        pieces: list[list[int] | None] = [p for g in groups for p in split(g, self.durations, self.backoff)]
        pieces = self._pad_to_max(pieces)
        acc.step = 0
        acc.gradient_accumulation_steps = len(pieces)
        loss_sum = seconds = 0.0
        finite = True
        k = 0
        while k < len(pieces):
            idx = pieces[k]
            weight = len(idx) / n_step if idx else 0.0
            oom, fatal, message = None, False, ""
            loss = None
            try:
                loss, secs = self._loss(idx or filler, weight)
            except Exception as exc:  # noqa: BLE001
                if not _is_oom(exc):
                    raise
                part = idx or filler
                if self.forward_collectives:  # the other ranks are gathering parameters: leave
                    self._needs_restart(part, "forward")
                oom = (padded_seconds(part, self.durations), max(self.durations[i] for i in part))
                fatal = len(part) == 1
                message = self._single_utterance_message(part) if fatal else ""
                del exc
            new_limit = self.backoff.on_oom(*oom) if oom and not fatal else 0.0
            bucket = 1 if not oom else bucket_of(oom[1])
            rows = gather_rows(acc, [1.0 if oom else 0.0, new_limit, bucket, 1.0 if fatal else 0.0,
                                      oom[0] if oom else 0.0])
            if any(r[3] for r in rows):
                self._fatal(rows, 3, message)
            if any(r[0] for r in rows):
                loss = None
                for r, row in enumerate(rows):
                    if row[0]:
                        events.append(self._event(r, row[4], row[1]))
                        self.backoff.adopt(row[1], int(row[2]))
                rest = [i for p in pieces[k:] if p for i in p]
                recut = self._pad_to_max(split(rest, self.durations, self.backoff) if rest else [])
                pieces = pieces[:k] + recut
                acc.gradient_accumulation_steps = len(pieces)
                continue
            bad = not bool(torch.isfinite(loss.detach()))
            finite = finite and not bad
            if bad:  # a zero loss on the same graph keeps the ranks' collectives matched
                loss = torch.nan_to_num(loss, nan=0.0, posinf=0.0, neginf=0.0) * 0.0
            elif idx:
                loss_sum += float(loss.detach()) * weight
                seconds += secs
            with acc.accumulate(t.model):
                try:
                    acc.backward(loss * weight * engine_gas)
                except torch.OutOfMemoryError:  # gradients are reduced inside DeepSpeed's backward
                    self._needs_restart(idx or filler, "backward")
            k += 1
        rows = gather_rows(acc, [0.0 if finite else 1.0, n_step, seconds, loss_sum, float(t.stop.signum > 0)])
        return self._finish(rows, events, stepped_by_engine=True)

    def _needs_restart(self, part: list[int], phase: str) -> None:
        """This rank's micro-batch `part` ran out of memory inside a collective: leave."""
        failed, longest = padded_seconds(part, self.durations), max(self.durations[i] for i in part)
        fatal = self._single_utterance_message(part) if len(part) == 1 else ""
        new = self.backoff.on_oom(failed, longest) if not fatal else failed
        event = self._event(self.acc.process_index, failed, new)
        event["phase"] = phase
        raise OomNeedsRestart(event, fatal)

    def leave_after_eval_oom(self, batch: list) -> None:
        """An evaluation batch ran out of memory where halving it cannot help: one utterance
        alone (fatal), or under ZeRO-3 (the other ranks are gathering parameters for their next
        forward). Leave with half that batch recorded as the limit for every batch."""
        seconds = sum(u.duration for u in batch)
        event = self._event(self.acc.process_index, seconds, max(seconds / 2.0, 0.5))
        event.update(step=self.t.counters.step, phase="evaluation")
        fatal = ""
        if len(batch) == 1:
            fatal = (f"evaluation: out of memory on one utterance alone: {batch[0].audio_path} ({seconds:.2f} s); "
                     f"the plan predicted {self.t.plan.predicted_peak_bytes / 2**30:.2f} GiB per device. Try "
                     f"--max-duration below {seconds:.1f} or --strategy zero3-offload")
        raise OomNeedsRestart(event, fatal)

    def _pad_to_max(self, pieces: list) -> list:
        """Same number of micro-batches on every rank: pad with zero-weight fillers (None)."""
        counts = gather_rows(self.acc, [float(len(pieces))])
        longest = int(max(r[0] for r in counts))
        return list(pieces) + [None] * (longest - len(pieces))

    def _sync_gradients(self) -> None:
        """Average gradients over ranks in one flat all-reduce (DDP's job, done by hand)."""
        import torch.distributed as dist
        from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

        params = self.t.params
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        grads = [p.grad for p in params]
        flat = _flatten_dense_tensors(grads)
        dist.all_reduce(flat)
        flat /= self.acc.num_processes
        for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
            g.copy_(synced)

    def _finish(self, rows, events, stepped_by_engine: bool = False) -> StepResult:
        acc, t = self.acc, self.t
        finite = not any(r[0] for r in rows)
        grad_norm = None
        if stepped_by_engine:  # DeepSpeed clipped and stepped inside the boundary backward
            norm = acc.deepspeed_engine_wrapped.get_global_grad_norm() if finite else None
            grad_norm = float(norm) if norm is not None else None
        else:
            if finite:
                if self.ddp:
                    self._sync_gradients()
                if t.cfg.max_grad_norm > 0:
                    norm = acc.clip_grad_norm_(t.params, t.cfg.max_grad_norm)
                    grad_norm = float(norm) if norm is not None else None
                t.optimizer.step()
        t.optimizer.zero_grad(set_to_none=True)
        if not events and self.backoff.on_good_step():
            pass  # limits raised again after enough good steps (probe)
        return StepResult(loss=sum(r[3] for r in rows) / acc.num_processes, grad_norm=grad_norm, finite=finite,
                          utterances=int(sum(r[1] for r in rows)), audio_seconds=sum(r[2] for r in rows),
                          stop=any(r[4] for r in rows), backoffs=events)
