"""The strategy choice: every candidate's bytes per GPU, whether it fits, and why one won (pure).

No torch, no files, no environment: inputs are an Inventory, a ModelSummary, DataStats and the
activation constants (loaded once from calibration.json unless passed in).

Batch arithmetic (written out in `Plan.render_table`):
    micro_batch_seconds x gradient_accumulation_steps x world_size >= effective_batch_seconds
micro_batch_seconds bounds the *padded* audio of one micro-batch (batch size x longest utterance),
and is at least the longest utterance so every utterance fits in one micro-batch.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ..errors import UserError
from ..hardware import gpu_table
from ..hardware.inventory import Inventory, parse_simulate
from . import activations as act
from .memory import GIB, STRATEGIES, model_state_bytes, safety_margin_bytes
from .model_inspect import ModelSummary

COMM_COST = {"single": "none", "ddp": "low", "zero2": "low", "zero3": "medium",
             "zero2-offload": "high", "zero3-offload": "high"}
PRECISION_CHOICES = ("auto", "fp32", "fp16", "bf16")
TRISTATE = ("auto", "on", "off")
MICRO_STEP_SECONDS = 0.01  # micro_batch_seconds is rounded up to this


@dataclass(frozen=True)
class DataStats:
    count: int
    hours: float
    mean: float
    p50: float
    p95: float
    max: float


@dataclass(frozen=True)
class Bytes:
    weights: int
    gradients: int
    optimizer: int
    activations: int
    buffers: int
    total: int


@dataclass(frozen=True)
class Candidate:
    strategy: str
    fits: bool
    reason: str
    num_processes: int
    num_machines: int
    micro_batch_seconds: float
    gradient_accumulation_steps: int
    precision: str
    gradient_checkpointing: bool
    bytes_per_gpu: Bytes
    cpu_bytes_per_node: int
    comm_cost: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Candidate":
        names = {f.name for f in fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in names},
                      "bytes_per_gpu": Bytes(**d["bytes_per_gpu"])})


@dataclass(frozen=True)
class Plan:
    chosen: Candidate
    candidates: tuple[Candidate, ...]
    hardware: Inventory
    model: ModelSummary
    data: DataStats
    effective_batch_seconds: float
    safety_margin_bytes: int
    notes: tuple[str, ...]

    @property
    def world_size(self) -> int:
        return self.chosen.num_processes

    def to_dict(self) -> dict:
        c = self.chosen
        return {
            "chosen": c.to_dict(),
            "candidates": [x.to_dict() for x in self.candidates],
            "hardware": self.hardware.to_dict(),
            "model": self.model.to_dict(),
            "data": asdict(self.data),
            "effective_batch_seconds": self.effective_batch_seconds,
            "planned_batch_seconds": round(c.micro_batch_seconds * c.gradient_accumulation_steps
                                           * c.num_processes, 6),
            "safety_margin_bytes": self.safety_margin_bytes,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Plan":
        return cls(Candidate.from_dict(d["chosen"]),
                   tuple(Candidate.from_dict(x) for x in d["candidates"]),
                   Inventory.from_dict(d["hardware"]), ModelSummary.from_dict(d["model"]),
                   DataStats(**d["data"]), float(d["effective_batch_seconds"]),
                   int(d["safety_margin_bytes"]), tuple(d.get("notes", ())))

    def render_table(self) -> str:
        return render_table(self)

    def __repr__(self) -> str:  # the `asr-dist plan` table (a notebook's text view, print(repr(p)))
        return render_table(self)

    def _repr_html_(self) -> str:  # the same table as HTML in Jupyter
        from ..notebook import plan_html

        return plan_html(self)


# --- context shared by all candidates ------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    inventory: Inventory
    model: ModelSummary
    data: DataStats
    effective: float
    precision: str
    checkpointing: str          # auto | on | off
    world: int
    machines: int
    per_node: int               # processes on one node
    device_bytes: int           # smallest GPU's total, or the node's RAM on CPU
    margin: int
    constants: act.ActivationConstants
    chars_per_second: float

    @property
    def cpu_only(self) -> bool:
        return self.inventory.is_cpu_only

    @property
    def unit(self) -> str:
        return "process" if self.cpu_only else "GPU"


def _gib(n: float) -> str:
    return f"{n / GIB:.1f}"


def _activations(ctx: _Context, micro: float, ckpt: bool) -> int:
    return act.activation_bytes(ctx.model, ctx.constants, total_seconds=micro,
                                longest_seconds=min(ctx.data.max, micro), checkpointing=ckpt,
                                chars_per_second=ctx.chars_per_second)


def _max_micro(ctx: _Context, ckpt: bool, budget: float, low: float, high: float) -> float | None:
    """Largest micro_batch_seconds in [low, high] whose activations fit `budget` (None: not low)."""
    if _activations(ctx, low, ckpt) > budget:
        return None
    if _activations(ctx, high, ckpt) <= budget:
        return high
    for _ in range(40):
        mid = (low + high) / 2
        low, high = (mid, high) if _activations(ctx, mid, ckpt) <= budget else (low, mid)
    return low


def _batch(ctx: _Context, world: int, max_micro: float) -> tuple[float, int]:
    """(micro_batch_seconds, accumulation): micro <= max_micro (rounded down to the step),
    micro x accum x world >= effective, and micro >= the longest utterance (rounded up), which
    always gets a micro-batch of its own even where max_micro is smaller."""
    step = MICRO_STEP_SECONDS
    floor = math.ceil(ctx.data.max / step - 1e-9) * step
    cap = max(floor, math.floor(max_micro / step + 1e-9) * step)
    accum = max(1, math.ceil(ctx.effective / (cap * world) - 1e-9))
    micro = max(floor, math.ceil(ctx.effective / (accum * world) / step - 1e-9) * step)
    return round(micro, 6), accum


def _evaluate(ctx: _Context, strategy: str) -> Candidate:
    world = 1 if strategy == "single" else ctx.world
    per_node = min(ctx.per_node, world)
    machines = 1 if strategy == "single" else ctx.machines
    m = ctx.model
    states = model_state_bytes(
        strategy, params_total=m.params_total, params_trainable=m.params_trainable,
        largest_layer_params=m.largest_layer_params, hidden_size=m.hidden_size, world_size=world,
        gpus_per_node=per_node, num_nodes=machines, precision=ctx.precision)
    fixed = states.weights + states.gradients + states.optimizer + states.buffers
    ram = ctx.inventory.min_ram_bytes
    offload = strategy.endswith("offload")
    if ctx.cpu_only:   # everything shares the node's RAM
        usable = (ram - ctx.margin - (states.cpu_bytes_per_node if offload else 0)) / per_node
    else:
        usable = ctx.device_bytes - ctx.margin
    ckpt_options = {"on": (True,), "off": (False,), "auto": (False, True)}[ctx.checkpointing]
    target = max(ctx.effective / world, ctx.data.max)
    problems = []
    if strategy == "ddp" and world < 2:
        problems.append("needs at least 2 processes (world size is 1)")
    ram_usable = ram - safety_margin_bytes(ram)
    if not ctx.cpu_only and states.cpu_bytes_per_node > ram_usable:
        problems.append(f"needs {_gib(states.cpu_bytes_per_node)} GiB CPU RAM per node > "
                        f"{_gib(ram_usable)} GiB usable")
    chosen_ckpt, max_micro = ckpt_options[-1], None
    if fixed > usable:
        problems.append(f"model states alone need {_gib(fixed)} GiB per {ctx.unit} > "
                        f"{_gib(max(usable, 0))} GiB usable")
    else:
        for ckpt in ckpt_options:
            max_micro = _max_micro(ctx, ckpt, usable - fixed, ctx.data.max, target)
            if max_micro is not None:
                chosen_ckpt = ckpt
                break
        if max_micro is None:
            need = fixed + _activations(ctx, ctx.data.max, chosen_ckpt)
            problems.append(f"the longest utterance ({ctx.data.max:g} s) needs {_gib(need)} GiB per "
                            f"{ctx.unit}{' with checkpointing' if chosen_ckpt else ''} > "
                            f"{_gib(usable)} GiB usable")
    micro, accum = _batch(ctx, world, max_micro or max(target, ctx.data.max))
    if max_micro is None:   # not fitting: report the smallest useful micro-batch
        micro, accum = _batch(ctx, world, max(ctx.data.max, MICRO_STEP_SECONDS))
    activations = _activations(ctx, micro, chosen_ckpt)
    total = fixed + activations
    b = Bytes(states.weights, states.gradients, states.optimizer, activations, states.buffers, total)
    fits = not problems
    if fits:
        reason = (f"fits: {_gib(total)} of {_gib(usable)} GiB usable per {ctx.unit}; micro-batch "
                  f"{micro:g} s, checkpointing {'on' if chosen_ckpt else 'off'}")
    else:
        reason = "does not fit: " + "; ".join(problems)
    return Candidate(strategy, fits, reason, world, machines, micro, accum, ctx.precision,
                     chosen_ckpt, b, states.cpu_bytes_per_node, COMM_COST[strategy])


# --- resolution of options -----------------------------------------------------------------------
def _precision(inventory: Inventory, requested: str) -> tuple[str, str]:
    if requested not in PRECISION_CHOICES:
        raise UserError(f"precision: '{requested}' is not one of {', '.join(PRECISION_CHOICES)}")
    small = inventory.smallest_gpu
    if inventory.is_cpu_only:
        if requested == "fp16":
            raise UserError("precision: fp16 needs a GPU; on CPU use fp32 (or bf16)")
        return ("fp32" if requested == "auto" else requested), "CPU only: fp32"
    if requested == "bf16" and not inventory.all_bf16:
        raise UserError(f"precision: bf16 needs compute capability >= 8.0; {small.label} has "
                        f"{small.compute_capability[0]}.{small.compute_capability[1]} (use fp16)")
    if requested != "auto":
        return requested, f"precision {requested} as requested"
    if inventory.all_bf16:
        return "bf16", "bf16: every GPU supports it"
    return "fp16", f"fp16: {small.label} has no bf16 (compute capability < 8.0)"


def _world(inventory: Inventory, num_processes: int | None) -> tuple[int, int, int, list[str]]:
    """(world, machines, processes per node, notes)."""
    notes = []
    if num_processes is not None and num_processes < 1:
        raise UserError(f"num_processes: must be >= 1, got {num_processes}")
    if inventory.is_cpu_only:
        nodes = inventory.num_nodes
        world = num_processes or nodes
        return world, nodes, max(1, math.ceil(world / nodes)), notes
    per_node = inventory.gpus_per_node
    available = per_node * inventory.num_nodes
    if inventory.num_gpus != available:
        notes.append(f"nodes have different GPU counts: using {per_node} per node")
    if num_processes is None:
        return available, inventory.num_nodes, per_node, notes
    if num_processes > available:
        raise UserError(f"num_processes: {num_processes} is more than the {available} GPU(s) "
                        f"available ({inventory.label()})")
    machines = math.ceil(num_processes / per_node)
    if num_processes % machines:
        raise UserError(f"num_processes: {num_processes} cannot be spread evenly over {machines} "
                        f"node(s) of {per_node} GPU(s)")
    return num_processes, machines, num_processes // machines, notes


def _auto_order(ctx: _Context) -> tuple[str, ...]:
    if ctx.cpu_only:
        return ("single",) if ctx.world == 1 else ("ddp",)
    if ctx.world == 1:
        return ("single", "zero2", "zero3", "zero2-offload", "zero3-offload")
    return ("ddp", "zero2", "zero3", "zero2-offload", "zero3-offload")


def _context(inventory, model, data, effective, precision, checkpointing, num_processes,
             constants, chars_per_second) -> tuple[_Context, list[str]]:
    prec, prec_note = _precision(inventory, precision)
    world, machines, per_node, notes = _world(inventory, num_processes)
    if inventory.is_cpu_only:
        device = inventory.min_ram_bytes
    else:
        device = inventory.smallest_gpu.total_bytes
    if constants is None:
        calib = act.load_calibration()
        constants, chars_per_second = calib.for_precision(prec), calib.chars_per_second
    ctx = _Context(inventory, model, data, float(effective), prec, checkpointing, world, machines,
                   per_node, device, safety_margin_bytes(device), constants,
                   chars_per_second or act.CHARS_PER_SECOND)
    return ctx, [prec_note] + notes


def _validate(data: DataStats, effective: float, strategy: str, checkpointing: str) -> None:
    errors = []
    if strategy not in ("auto",) + STRATEGIES:
        errors.append(f"strategy: '{strategy}' is not one of auto, {', '.join(STRATEGIES)}")
    if checkpointing not in TRISTATE:
        errors.append(f"gradient_checkpointing: '{checkpointing}' is not one of auto, on, off")
    if not effective or effective <= 0:
        errors.append(f"effective_batch_seconds: must be > 0, got {effective}")
    if data.count < 1 or data.max <= 0:
        errors.append(f"training data: no utterances with a positive duration (count {data.count})")
    if errors:
        raise UserError("; ".join(errors))


def _choose(ctx: _Context, candidates: dict[str, Candidate]) -> Candidate | None:
    return next((candidates[s] for s in _auto_order(ctx) if candidates[s].fits), None)


def _would_fit(spec: str, ctx: _Context) -> bool:
    inv = parse_simulate(spec)
    try:
        other, _ = _context(inv, ctx.model, ctx.data, ctx.effective, "auto", ctx.checkpointing,
                            None, None, None)
    except UserError:
        return False
    return _choose(other, {s: _evaluate(other, s) for s in STRATEGIES}) is not None


def _suggestions(ctx: _Context) -> list[str]:
    found = []
    for gpu in sorted(gpu_table.GPU_TYPES.values(), key=lambda g: g.total_bytes):
        if gpu.total_bytes > ctx.device_bytes and _would_fit(f"1x{gpu.name}", ctx):
            found.append(f"1x{gpu.name}")
            break
    small = ctx.inventory.smallest_gpu
    if small is not None and gpu_table.lookup(small.label):
        for count in (2, 4, 8, 16, 32, 64):
            spec = f"{count}x{small.label}" if count <= 8 else f"{count // 8}x8x{small.label}"
            if count > ctx.world and _would_fit(spec, ctx):
                found.append(spec)
                break
    return found


def _nothing_fits(ctx: _Context, candidates: dict[str, Candidate]) -> UserError:
    eligible = [candidates[s] for s in _auto_order(ctx)]
    best = min(eligible, key=lambda c: c.bytes_per_gpu.total)
    if ctx.cpu_only:
        have = f"this machine has {_gib(ctx.inventory.min_ram_bytes)} GiB RAM"
        unit = "process"
    else:
        have = f"smallest GPU has {_gib(ctx.device_bytes)} GiB"
        unit = "GPU"
    hint = _suggestions(ctx) if not ctx.cpu_only else []
    tail = f"; {' or '.join(hint)} would fit" if hint else ""
    return UserError(
        f"no strategy fits {ctx.model.name}: needs {_gib(best.bytes_per_gpu.total)} GiB per {unit} "
        f"with {best.strategy} (micro-batch {best.micro_batch_seconds:g} s); {have} "
        f"({_gib(ctx.device_bytes - ctx.margin)} usable after the {_gib(ctx.margin)} GiB safety "
        f"margin){tail}. Details: {best.reason}")


def make_plan(inventory: Inventory, model: ModelSummary, data: DataStats, *,
              effective_batch_seconds: float, strategy: str = "auto", precision: str = "auto",
              gradient_checkpointing: str = "auto", num_processes: int | None = None,
              constants: act.ActivationConstants | None = None,
              chars_per_second: float | None = None) -> Plan:
    """Every candidate with its bytes per GPU, and the cheapest one that fits (or the forced one)."""
    _validate(data, effective_batch_seconds, strategy, gradient_checkpointing)
    ctx, notes = _context(inventory, model, data, effective_batch_seconds, precision,
                          gradient_checkpointing, num_processes, constants, chars_per_second)
    candidates = {s: _evaluate(ctx, s) for s in STRATEGIES}
    if inventory.is_heterogeneous:
        notes.append(f"mixed hardware: planned for the smallest GPU ({inventory.smallest_gpu.label})")
    notes.append(f"safety margin {_gib(ctx.margin)} GiB per {ctx.unit} = 1.5 GiB + 10% of "
                 f"{_gib(ctx.device_bytes)} GiB (CUDA context, workspaces, fragmentation)")
    if strategy != "auto":
        chosen = candidates[strategy]
        if not chosen.fits:
            notes.append(f"WARNING: --strategy {strategy} forced although predicted not to fit "
                         f"({chosen.reason})")
        why = f"{strategy}: forced by --strategy"
    else:
        chosen = _choose(ctx, candidates)
        if chosen is None:
            raise _nothing_fits(ctx, candidates)
        cheaper = [s for s in _auto_order(ctx) if s != chosen.strategy][:_auto_order(ctx).index(chosen.strategy)]
        lost = "; ".join(f"{s} {candidates[s].reason}" for s in cheaper)
        why = (f"{chosen.strategy}: the cheapest strategy (communication {chosen.comm_cost}) that fits"
               + (f" (cheaper ones: {lost})" if lost else ""))
    notes.insert(0, why)
    candidates = {s: _annotate(ctx, c, chosen) for s, c in candidates.items()}
    if chosen.micro_batch_seconds * chosen.gradient_accumulation_steps * chosen.num_processes \
            > ctx.effective * 1.05:
        notes.append(f"the longest utterance ({data.max:g} s) sets the micro-batch floor, so each "
                     "step sees more audio than --effective-batch-seconds")
    return Plan(candidates[chosen.strategy], tuple(candidates.values()), inventory, model, data,
                float(effective_batch_seconds), ctx.margin, tuple(notes))


def _annotate(ctx: _Context, cand: Candidate, chosen: Candidate) -> Candidate:
    """Say why a fitting candidate was not chosen."""
    if cand.strategy == chosen.strategy or not cand.fits:
        return cand
    if cand.strategy not in _auto_order(ctx):
        why = (f"would use 1 of the {ctx.world} {ctx.unit}s" if cand.strategy == "single"
               else "DeepSpeed strategies are only used on CPU when forced with --strategy"
               if ctx.cpu_only else "not useful with one process")
    else:
        why = f"{chosen.strategy} is cheaper"
    return replace(cand, reason=f"{cand.reason} - not chosen: {why}")


def render_table(plan: Plan) -> str:
    """The human table for `asr-dist plan`."""
    unit = "process" if plan.hardware.is_cpu_only else "GPU"
    # small models (tiny) in MiB, so the table does not read 0.0 everywhere
    scale, scale_name = (GIB, "GiB") if max(c.bytes_per_gpu.total for c in plan.candidates) >= GIB else (2**20, "MiB")

    def _gib(n: float) -> str:  # noqa: F811 - the table's own unit
        return f"{n / scale:.1f}"

    head = (f"{'':2}{'candidate':<14}{'weights':>8}{'grads':>8}{'optim':>8}{'activ':>8}{'buffers':>8}"
            f"{'total':>8}  {'fits':<5}{'ckpt':<5}{'micro s':>8}{'accum':>6}  reason")
    lines = [f"plan for {plan.model.name} ({plan.model.params_total / 1e6:.1f}M params, "
             f"{plan.model.params_trainable / 1e6:.1f}M trainable) on {plan.hardware.label()} "
             f"- {scale_name} per {unit}", head]
    for c in plan.candidates:
        b = c.bytes_per_gpu
        mark = "->" if c.strategy == plan.chosen.strategy else ""
        lines.append(
            f"{mark:<2}{c.strategy:<14}{_gib(b.weights):>8}{_gib(b.gradients):>8}{_gib(b.optimizer):>8}"
            f"{_gib(b.activations):>8}{_gib(b.buffers):>8}{_gib(b.total):>8}  "
            f"{'yes' if c.fits else 'no':<5}{'on' if c.gradient_checkpointing else 'off':<5}"
            f"{c.micro_batch_seconds:>8g}{c.gradient_accumulation_steps:>6}  {c.reason}")
    c = plan.chosen
    planned = c.micro_batch_seconds * c.gradient_accumulation_steps * c.num_processes
    lines += [
        "",
        f"chosen: {plan.notes[0]}",
        f"precision {c.precision}; gradient checkpointing {'on' if c.gradient_checkpointing else 'off'}; "
        f"{c.num_processes} process(es) on {c.num_machines} machine(s); CPU RAM per node "
        f"{_gib(c.cpu_bytes_per_node)} GiB",
        f"margin: {_gib(plan.safety_margin_bytes)} GiB per {unit} kept free "
        f"(1.5 GiB + 10% of the {unit} memory)",
        f"batch: {c.micro_batch_seconds:g} s x {c.gradient_accumulation_steps} accum x "
        f"{c.num_processes} {'ranks' if c.num_processes > 1 else 'rank'} = {planned:g} s of audio "
        f"per optimizer step (asked {plan.effective_batch_seconds:g} s; data: mean "
        f"{plan.data.mean:g} s, p95 {plan.data.p95:g} s, max {plan.data.max:g} s)",
    ]
    lines += [f"note: {n}" for n in plan.notes[1:]]
    return "\n".join(lines)
