"""The `accelerate launch` command line and its environment, built as data (pure)."""
from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LaunchCommand:
    argv: tuple[str, ...]
    env: dict = field(default_factory=dict, hash=False)

    def shell(self) -> str:
        prefix = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + " ".join(shlex.quote(a) for a in self.argv)


def accelerate_command(config_file: str, run_config: str, *, machine_rank: int | None = None,
                       main_process_ip: str | None = None, main_process_port: int | None = None,
                       extra_args: tuple[str, ...] = (), python: str | None = None,
                       env: dict | None = None) -> LaunchCommand:
    """`python -m asr_dist.launching.accelerate_main --config_file Y -m asr_dist.train --config R`:
    `accelerate launch ...` pinned to this interpreter, passing the training's exit code through
    (accelerate_main.py). Per-machine values (rank, head address) go on the command line so that
    one YAML serves every node."""
    argv = [python or sys.executable, "-m", "asr_dist.launching.accelerate_main", "--config_file", config_file]
    if machine_rank is not None:
        argv += ["--machine_rank", str(machine_rank)]
    if main_process_ip:
        argv += ["--main_process_ip", main_process_ip]
    if main_process_port:
        argv += ["--main_process_port", str(main_process_port)]
    argv += ["-m", "asr_dist.train", "--config", run_config, *extra_args]
    return LaunchCommand(tuple(argv), dict(env or {}))
