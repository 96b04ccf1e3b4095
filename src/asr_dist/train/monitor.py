"""What a run reports: TensorBoard scalars, the main-process progress bar, peak memory."""
from __future__ import annotations

import os
import resource
import sys

import torch


def peak_memory_bytes() -> int:
    """Peak bytes of this rank: CUDA allocator peak on GPU, resident set peak on CPU."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux: KiB


class Monitor:
    def __init__(self, accelerator, log_dir: str, total_steps: int, start_step: int):
        self.main = accelerator.is_main_process
        self.writer = None
        self.bar = None
        if self.main:
            from torch.utils.tensorboard import SummaryWriter
            from tqdm import tqdm  # text bar: a forked rank in a notebook cannot draw a widget

            os.makedirs(log_dir, exist_ok=True)
            self.writer = SummaryWriter(log_dir)
            self.bar = tqdm(total=total_steps, initial=start_step, desc="train", unit="step",
                            dynamic_ncols=True, file=sys.stderr, mininterval=1.0)
        self.postfix: dict[str, str] = {}

    def scalars(self, step: int, values: dict) -> None:
        if self.writer:
            for key, value in values.items():
                if value is not None:
                    self.writer.add_scalar(key, value, step)

    def advance(self, **postfix) -> None:
        if self.bar:
            self.postfix.update({k: v for k, v in postfix.items() if v is not None})
            self.bar.set_postfix(self.postfix, refresh=False)
            self.bar.update(1)

    def line(self, text: str) -> None:
        if self.main:
            if self.bar:
                self.bar.write(text, file=sys.stderr)
            else:
                print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar:
            self.bar.close()
        if self.writer:
            self.writer.flush()
            self.writer.close()
