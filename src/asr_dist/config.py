"""The run configuration: one dataclass tree, every default in one place, YAML round-trip.

Every field is a RUN OPTION of CONTRACT.md (CLI flag = field name with dashes) or a documented
extra. `load_yaml` rejects unknown keys naming the closest known one; `validate` reports every
problem at once in one UserError.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field, fields

import yaml

from .errors import UserError

STRATEGIES = ("auto", "single", "ddp", "zero2", "zero3", "zero2-offload", "zero3-offload")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
TRISTATE = ("auto", "on", "off")
LR_SCHEDULES = ("linear", "cosine", "constant")
DEFAULT_DEMO_DIR = "demo_data"


def _opt(default, help_text: str, **meta):
    return field(default=default, metadata={"help": help_text, **meta})


@dataclass
class RunConfig:
    """Everything that decides a run. CLI flags override a YAML file given with --config."""

    model: str = _opt("tiny", "tiny | xls-r-300m | xls-r-1b | xls-r-2b | a local folder from_pretrained reads")
    train_manifest: str | None = _opt(None, "training manifest (JSONL/CSV/TSV, datasets folder); default: demo data, generated if absent")
    eval_manifest: str | None = _opt(None, "evaluation manifest; default: dev.jsonl beside the demo train manifest")
    output_dir: str | None = _opt(None, "run folder; default outputs/<run-name>")
    run_name: str | None = _opt(None, "name of the run (folder and config names); default derived from model and plan")
    strategy: str = _opt("auto", "auto | " + " | ".join(STRATEGIES[1:]), choices=STRATEGIES)
    num_processes: int | None = _opt(None, "processes in total (default: one per GPU, 1 on CPU)")
    num_machines: int = _opt(1, "machines (nodes) taking part")
    machine_rank: int = _opt(0, "rank of this machine, 0..num_machines-1")
    main_process_ip: str | None = _opt(None, "address of machine 0 (multi-node)")
    main_process_port: int | None = _opt(None, "port on machine 0 (multi-node; default 29500)")
    effective_batch_seconds: float = _opt(32.0, "audio seconds per optimizer step, over all ranks")
    max_steps: int = _opt(500, "optimizer steps to train")
    eval_every: int = _opt(100, "evaluate on the eval manifest every N steps (and at the end)")
    save_every: int = _opt(100, "write checkpoint-<step>/ every N steps")
    save_total_limit: int = _opt(2, "rotating checkpoints kept (checkpoint-best is never deleted)")
    learning_rate: float | None = _opt(None, "peak learning rate; default per model (tiny 3e-3, XLS-R 1e-4)")
    precision: str = _opt("auto", "auto | fp32 | fp16 | bf16", choices=PRECISIONS)
    gradient_checkpointing: str = _opt("auto", "auto | on | off", choices=TRISTATE)
    resume: str = _opt("none", "auto (newest checkpoint in the run folder) | none | PATH to a checkpoint")
    simulate: str | None = _opt(None, "plan for hardware that is not here, e.g. 2x8xA100-80GB")
    seed: int = _opt(42, "random seed (data order, init, augmentation)")
    # extras (not in the contract's list; settable in YAML and as flags)
    warmup_steps: int | None = _opt(None, "LR warmup steps; default 10% of max_steps")
    lr_schedule: str = _opt("linear", "linear | cosine | constant (after warmup)", choices=LR_SCHEDULES)
    weight_decay: float = _opt(0.0, "AdamW weight decay")
    max_grad_norm: float = _opt(1.0, "gradient clipping norm (0 disables)")
    freeze_feature_encoder: bool = _opt(True, "freeze the convolutional feature encoder of a pretrained model (presets start from random weights and train it)")
    min_duration: float = _opt(0.2, "drop utterances shorter than this (seconds)")
    max_duration: float = _opt(30.0, "drop utterances longer than this (seconds)")
    log_every: int = _opt(10, "console/TensorBoard logging interval in steps")
    max_nonfinite_in_row: int = _opt(5, "abort after this many non-finite losses in a row")
    demo_data_dir: str = _opt(DEFAULT_DEMO_DIR, "where demo data is generated when no manifest is given")
    oom_probe_after: int = _opt(200, "after an out-of-memory backoff, try a larger micro-batch again after N good steps")
    micro_batch_limit_seconds: float | None = _opt(None, "start with micro-batches of at most this many padded seconds (the OOM backoff's limit; default the plan's)")
    eval_max_utterances: int | None = _opt(None, "evaluate on at most this many utterances (default all)")

    # --- YAML round-trip ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


FIELD_NAMES = tuple(f.name for f in fields(RunConfig))


def field_help(name: str) -> str:
    return next(f.metadata["help"] for f in fields(RunConfig) if f.name == name)


def _closest(name: str) -> str:
    match = difflib.get_close_matches(name, FIELD_NAMES, n=1, cutoff=0.5)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _coerce(name: str, value, errors: list[str]):
    """Convert a YAML/CLI value to the field's type, collecting a message on failure."""
    if value is None:
        return None
    hint = typing.get_type_hints(RunConfig)[name]
    base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = base[0]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        errors.append(f"{name}: expected {kind.__name__}, got {value!r}")
        return None


def from_dict(data: dict, base: RunConfig | None = None, source: str = "config") -> RunConfig:
    """Build a RunConfig from a mapping, rejecting unknown keys and wrong types (all at once)."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of run options, got {type(data).__name__}")
    errors: list[str] = []
    values = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in FIELD_NAMES:
            errors.append(f"unknown key '{key}'{_closest(name)}")
            continue
        values[name] = _coerce(name, value, errors)
    if errors:
        raise UserError(f"{source}: " + "; ".join(errors))
    cfg = dataclasses.replace(base or RunConfig(), **values)
    validate(cfg, source)
    return cfg


def load_yaml(path: str, base: RunConfig | None = None) -> RunConfig:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise UserError(f"--config: file not found: {path}") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" line {line + 1}" if line is not None else ""
        raise UserError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return from_dict(data, base, source=path)


def validate(cfg: RunConfig, source: str = "options") -> None:
    """Check ranges and choices; raise one UserError listing every problem."""
    errors = []
    for f in fields(RunConfig):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices and value not in choices:
            errors.append(f"{f.name}: '{value}' is not one of {', '.join(choices)}")
    positive = ("effective_batch_seconds", "max_steps", "eval_every", "save_every", "log_every",
                "max_nonfinite_in_row", "num_machines", "oom_probe_after", "micro_batch_limit_seconds")
    for name in positive:
        if getattr(cfg, name) is not None and getattr(cfg, name) <= 0:
            errors.append(f"{name}: must be > 0, got {getattr(cfg, name)}")
    if cfg.num_processes is not None and cfg.num_processes <= 0:
        errors.append(f"num_processes: must be > 0, got {cfg.num_processes}")
    if cfg.save_total_limit < 1:
        errors.append(f"save_total_limit: must be >= 1, got {cfg.save_total_limit}")
    if cfg.learning_rate is not None and cfg.learning_rate <= 0:
        errors.append(f"learning_rate: must be > 0, got {cfg.learning_rate}")
    if not 0 <= cfg.machine_rank < max(cfg.num_machines, 1):
        errors.append(f"machine_rank: must be in 0..{cfg.num_machines - 1}, got {cfg.machine_rank}")
    if cfg.min_duration < 0 or cfg.max_duration <= cfg.min_duration:
        errors.append(f"min_duration/max_duration: need 0 <= min < max, got {cfg.min_duration}/{cfg.max_duration}")
    if cfg.warmup_steps is not None and cfg.warmup_steps < 0:
        errors.append(f"warmup_steps: must be >= 0, got {cfg.warmup_steps}")
    if errors:
        raise UserError(f"{source}: " + "; ".join(errors))
