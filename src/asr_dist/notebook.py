"""Runs from a Jupyter cell: `asr_dist.notebook_launch(**run_options)` and the Plan's HTML table.

notebook_launch prepares the run folder exactly as `asr-dist launch` does (prepare_run: plan,
configs, processor), then starts the planned processes through accelerate's `notebook_launcher`
instead of an `accelerate launch` subprocess. Every rank runs the same `train_main(cfg)` that
`accelerate launch` starts, with the environment `accelerate launch` would give it for the run
folder's accelerate YAML (derived by accelerate's own launch code), so the two ways of starting a
run train the same way. Ranks are forked from the kernel: their progress bar and log lines are
written to the cell.

On CPU, several processes run DDP over gloo (the training side makes `Accelerator(cpu=True)` and
a gloo process group whenever WORLD_SIZE > 1); the summary's world_size is checked against the
planned number of processes, so a run that silently fell back to independent processes fails.
"""
from __future__ import annotations

import contextlib
import html
import logging
import os
import signal
import socket
import sys
import warnings

from .config import RunConfig
from .errors import RunFailed, UserError

# set per rank by torch elastic (notebook_launcher); never copied from the launcher's environment
_ELASTIC_KEYS = {"MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                 "GROUP_RANK", "ROLE_RANK", "ROLE_WORLD_SIZE", "NODE_RANK", "PYTHONPATH"}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def launch_environment(argv: tuple[str, ...] | list[str]) -> tuple[dict, str]:
    """The variables `accelerate launch ARGV` would add for its ranks (beyond this process's
    environment and those torch elastic sets per rank), and the launcher kind it would use:
    "deepspeed", "multi_gpu" or "simple". Computed by accelerate's own launch code."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import launch as acc_launch

    args = launch_command_parser().parse_args(list(argv))
    acc_logger = logging.getLogger("accelerate")
    level = acc_logger.level
    acc_logger.setLevel(logging.ERROR)  # "values were not passed ... defaults used" and port notes
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            args, defaults, mp_from_config = _validate_launch_command(args)
            if args.use_deepspeed and not args.cpu:  # the same dispatch as accelerate's launch_command
                fields = list(defaults.deepspeed_config.keys()) if defaults else []
                if mp_from_config:
                    fields.append("mixed_precision")
                args.deepspeed_fields_from_accelerate_config = ",".join(fields)
                _, env = acc_launch.prepare_deepspeed_cmd_env(args)
                kind = "deepspeed"
            elif args.multi_gpu and not args.cpu:
                env = acc_launch.prepare_multi_gpu_env(args)
                kind = "multi_gpu"
            else:
                _, env = acc_launch.prepare_simple_launcher_cmd_env(args)
                kind = "simple"
    finally:
        acc_logger.setLevel(level)
    added = {k: str(v) for k, v in env.items() if os.environ.get(k) != v and k not in _ELASTIC_KEYS}
    return added, kind


def _accelerate_args(argv: tuple[str, ...]) -> list[str]:
    """The launch command's `accelerate launch` arguments: from `--config_file` on."""
    return list(argv[list(argv).index("--config_file"):])


def _rank_main(cfg: RunConfig, env: dict, threads: str | None) -> int:
    """What every forked rank runs: accelerate launch's environment, then train_main(cfg)."""
    os.environ.update(env)
    if threads:
        import torch

        os.environ["OMP_NUM_THREADS"] = threads
        torch.set_num_threads(int(threads))
    from .train.entry import train_main

    code = train_main(cfg)
    if code != 0:
        print(f"rank {os.environ.get('RANK', '0')}: training ended with code {code}", file=sys.stderr, flush=True)
    return code


@contextlib.contextmanager
def _in_process_guard():
    """A 1-process run executes inside the kernel: give it the environment for the duration only,
    restore the kernel's signal handlers and thread count, and reset accelerate's global state so
    that the next notebook_launch (or one with several processes) starts clean."""
    import torch

    saved_env = dict(os.environ)
    saved_signals = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)}
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        for k in set(os.environ) - set(saved_env):  # accelerate's and ours
            del os.environ[k]
        os.environ.update(saved_env)
        for s, handler in saved_signals.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(s, handler)
        torch.set_num_threads(threads)
        from accelerate.state import AcceleratorState, GradientState, PartialState

        AcceleratorState._reset_state(True)
        GradientState._reset_state()
        PartialState._reset_state()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def notebook_launch(config: str | RunConfig | None = None, say=_say, **run_options) -> dict:
    """The run `asr_dist.launch(**run_options)` would make, started from this process through
    accelerate's notebook_launcher (one forked process per planned rank; a 1-process plan runs in
    this process). Returns run_summary.json as a dict, with "run_dir" added."""
    from accelerate import notebook_launcher

    from .api import _read_summary, config_from
    from .launching.prepare import prepare_run
    from .launching.slurm import apply_slurm_env

    cfg = apply_slurm_env(config_from(config, **run_options), os.environ, say)
    if cfg.num_machines > 1:
        raise UserError(f"--num-machines: notebook_launch starts the processes of this machine only "
                        f"(got {cfg.num_machines} machines); use asr_dist.launch / `asr-dist launch` "
                        f"on every machine for a multi-machine run")
    prepared = prepare_run(cfg, say)
    try:
        chosen = prepared.plan.chosen
        env, kind = launch_environment(_accelerate_args(prepared.command.argv))
        env.update({k: str(v) for k, v in prepared.command.env.items()})
        # torch reads OMP_NUM_THREADS when it starts, and it has started here: the ranks set their
        # thread count explicitly (the run's own value; else torchrun's 1 per rank when several)
        threads = env.get("OMP_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or (
            "1" if chosen.num_processes > 1 else None)
        port = prepared.cfg.main_process_port or free_port()
        say(f"plan: {chosen.strategy} x{chosen.num_processes} ({chosen.precision}, micro-batch "
            f"{chosen.micro_batch_seconds:.1f} s x {chosen.gradient_accumulation_steps} accumulation); "
            f"run folder {prepared.run_dir}")
        n = chosen.num_processes
        where = "CPU, gloo" if prepared.plan.hardware.is_cpu_only else "GPU"
        say(f"notebook_launcher: {n} process{'es' if n > 1 else ''} ({where}), "
            f"{'forked from this one' if n > 1 else 'in this process'}")
        if n == 1:
            if kind == "deepspeed":  # accelerate launch runs DeepSpeed through torch elastic even for 1 rank
                env.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1",
                           MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
            with _in_process_guard():
                notebook_launcher(_rank_main, args=(prepared.cfg, env, threads), num_processes=1)
        else:
            from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

            try:
                notebook_launcher(_rank_main, args=(prepared.cfg, env, threads), num_processes=n,
                                  use_port=str(port), master_addr="127.0.0.1")
            except ChildFailedError as exc:  # names the failed ranks and their error files
                raise RunFailed(f"training failed in a forked rank ({exc}); see the output above and "
                                f"{prepared.run_dir}/logs") from exc
        summary = _read_summary(prepared, 0)
    finally:
        prepared.release()
    if summary.get("world_size") != n:
        raise RunFailed(f"planned {n} processes but the run reported world_size {summary.get('world_size')}: "
                        f"the ranks did not join one process group")
    return summary


# --- the Plan in a notebook ----------------------------------------------------------------------
def plan_html(plan) -> str:
    """The `asr-dist plan` table as HTML: the same rows, numbers and notes as render_table."""
    from .planning.planner import _gib

    unit = "process" if plan.hardware.is_cpu_only else "GPU"
    esc = html.escape
    title = (f"plan for {plan.model.name} ({plan.model.params_total / 1e6:.1f}M params, "
             f"{plan.model.params_trainable / 1e6:.1f}M trainable) on {plan.hardware.label()} - GiB per {unit}")
    heads = ["", "candidate", "weights", "grads", "optim", "activ", "buffers", "total", "fits", "ckpt",
             "micro s", "accum", "reason"]
    rows = []
    for c in plan.candidates:
        b = c.bytes_per_gpu
        chosen = c.strategy == plan.chosen.strategy
        cells = ["&rarr;" if chosen else "", esc(c.strategy)]
        cells += [_gib(x) for x in (b.weights, b.gradients, b.optimizer, b.activations, b.buffers, b.total)]
        cells += ["yes" if c.fits else "no", "on" if c.gradient_checkpointing else "off",
                  f"{c.micro_batch_seconds:g}", str(c.gradient_accumulation_steps), esc(c.reason)]
        style = ' style="font-weight:bold;background:#e8f4e8"' if chosen else (
            ' style="color:#999"' if not c.fits else "")
        attrs = f' class="asr-dist-{"chosen" if chosen else "candidate"}" data-strategy="{esc(c.strategy)}"{style}'
        tds = "".join(f'<td style="text-align:{"left" if i in (1, 12) else "right"}">{v}</td>'
                      for i, v in enumerate(cells))
        rows.append(f"<tr{attrs}>{tds}</tr>")
    text = plan.render_table().splitlines()
    footer = text[text.index("") + 1:] if "" in text else []
    return ("<div class=\"asr-dist-plan\">"
            f"<p><b>{esc(title)}</b></p>"
            "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>"
            "<pre>" + esc("\n".join(footer)) + "</pre></div>")

