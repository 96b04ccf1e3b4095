"""profile -> inspect -> plan -> run folder + configs: everything `asr-dist launch` does before it
starts `accelerate launch` (and all that `--dry-run` does)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import yaml

from ..config import RunConfig
from ..errors import UserError
from ..runs import (PLAN_FILE, RUN_CONFIG_FILE, Data, default_output_dir, freezes_feature_encoder, load_data,
                    read_vocab, resolve_inputs)
from ..train import checkpoint as ckpt
from .command import LaunchCommand, accelerate_command
from .lock import RunLock

ACCELERATE_DIR = "accelerate_configs"
DEEPSPEED_DIR = "deepspeed_configs"


def inventory_for(cfg: RunConfig):
    """The hardware to plan for: simulated, or this machine (and, with --num-machines N outside
    SLURM, N machines of this one's shape)."""
    import dataclasses

    from ..hardware.inventory import parse_simulate
    from ..hardware.probe import probe

    inventory = parse_simulate(cfg.simulate) if cfg.simulate else probe()
    if not cfg.simulate and cfg.num_machines > inventory.num_nodes:
        inventory = dataclasses.replace(
            inventory, nodes=tuple(inventory.nodes[:1]) * cfg.num_machines,
            notes=inventory.notes + (f"--num-machines {cfg.num_machines}: every machine assumed to look like this one",))
    return inventory


def data_stats(data: Data):
    from ..planning.planner import DataStats

    return DataStats(**data.train.stats())


def make_run_plan(cfg: RunConfig, data: Data, inventory=None):
    from ..planning.model_inspect import inspect_model
    from ..planning.planner import make_plan

    inventory = inventory or inventory_for(cfg)
    model = inspect_model(cfg.model, vocab_size=len(data.vocab), freeze_feature_encoder=freezes_feature_encoder(cfg))
    return make_plan(inventory, model, data_stats(data), effective_batch_seconds=cfg.effective_batch_seconds,
                     strategy=cfg.strategy, precision=cfg.precision,
                     gradient_checkpointing=cfg.gradient_checkpointing, num_processes=cfg.num_processes)


def plan_from_config(cfg: RunConfig, say=print):
    """The plan for these options (reads the manifests for duration statistics and vocabulary)."""
    cfg = resolve_inputs(cfg, say)
    data = load_data(cfg, vocab=_model_vocab(cfg))
    return make_run_plan(cfg, data), cfg, data


def _model_vocab(cfg: RunConfig) -> dict | None:
    """A local model folder that has a vocabulary keeps it (fine-tuning, resuming)."""
    return read_vocab(cfg.model) if os.path.isdir(cfg.model) else None


@dataclass(frozen=True)
class PreparedRun:
    cfg: RunConfig
    plan: object
    run_dir: str
    accelerate_yaml: str
    deepspeed_json: str | None
    command: LaunchCommand
    lock: object = None  # RunLock held by machine 0's launcher until the run ends

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _check_run_dir(cfg: RunConfig, run_dir: str) -> None:
    if cfg.resume == "none" and ckpt.list_checkpoints(run_dir):
        raise UserError(f"--output-dir: {run_dir} already holds checkpoints; pass --resume auto to "
                        f"continue that run, or choose another --output-dir")


LAUNCH_FILE = "launch.json"
WAIT_FOR_MAIN_SECONDS = 900


def _launch_token(cfg: RunConfig) -> str:
    """Identifies one multi-machine launch, the same on every machine of it."""
    return ":".join(str(x) for x in (cfg.main_process_ip, cfg.main_process_port,
                                     os.environ.get("SLURM_JOB_ID", ""), os.environ.get("SLURM_RESTART_COUNT", "0")))


def _check_multi_machine(cfg: RunConfig) -> None:
    if cfg.num_machines > 1:
        if not cfg.main_process_ip:
            raise UserError(f"--main-process-ip: required with --num-machines {cfg.num_machines} "
                            f"(the address of machine 0)")
        if not cfg.output_dir:
            raise UserError("--output-dir: required with --num-machines > 1 (a folder every machine sees)")


def join_run(cfg: RunConfig, say=print, timeout: float = WAIT_FOR_MAIN_SECONDS) -> PreparedRun:
    """Machines 1..N-1: wait until machine 0 has prepared the shared run folder, then launch the
    same configs with this machine's rank."""
    import time

    from ..planning.planner import Plan

    path = os.path.join(cfg.output_dir, LAUNCH_FILE)
    token = _launch_token(cfg)
    say(f"machine {cfg.machine_rank}: waiting for machine 0 to prepare {cfg.output_dir} ...")
    deadline = time.time() + timeout
    info = None
    while time.time() < deadline:
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
            if info.get("token") == token:
                break
        time.sleep(0.5)
    else:
        raise UserError(f"--machine-rank {cfg.machine_rank}: machine 0 did not prepare {cfg.output_dir} within "
                        f"{timeout:.0f} s (is the folder shared, and are --main-process-ip/--main-process-port the same?)")
    with open(os.path.join(cfg.output_dir, PLAN_FILE), encoding="utf-8") as fh:
        plan = Plan.from_dict(json.load(fh))
    command = accelerate_command(info["accelerate_config"], info["run_config"], machine_rank=cfg.machine_rank,
                                 main_process_ip=cfg.main_process_ip, main_process_port=cfg.main_process_port,
                                 env=info["env"])
    return PreparedRun(cfg, plan, cfg.output_dir, info["accelerate_config"], info.get("deepspeed_config"), command, None)


def _start_from_observed_limit(cfg: RunConfig, run_dir: str, plan, say) -> RunConfig:
    """A run folder whose last launch backed off after out-of-memory errors: start this launch
    at the limit it found (written in run_summary.json), unless one is given."""
    path = os.path.join(run_dir, "run_summary.json")
    if cfg.micro_batch_limit_seconds is not None or not os.path.isfile(path):
        return cfg
    with open(path, encoding="utf-8") as fh:
        observed = json.load(fh).get("oom_limit_seconds")
    if observed and observed < plan.chosen.micro_batch_seconds:
        say(f"note: the last launch in {run_dir} ran out of memory above {observed:g} s micro-batches; "
            f"starting there (--micro-batch-limit-seconds to override)")
        return cfg.replace(micro_batch_limit_seconds=float(observed))
    return cfg


def prepare_run(cfg: RunConfig, say=print) -> PreparedRun:
    from ..writers import config_name

    _check_multi_machine(cfg)
    if cfg.num_machines > 1 and cfg.machine_rank > 0:
        return join_run(cfg, say)
    if cfg.num_machines > 1 and os.path.isfile(os.path.join(cfg.output_dir, LAUNCH_FILE)):
        os.remove(os.path.join(cfg.output_dir, LAUNCH_FILE))  # the other machines wait for a fresh one
    plan, cfg, data = plan_from_config(cfg, say)
    name = config_name(plan)
    run_dir = cfg.output_dir or default_output_dir(cfg, name)
    if cfg.resume == "auto" and not cfg.output_dir:
        say("note: --resume auto without --output-dir starts a new run folder (nothing to resume)")
    lock = RunLock(run_dir)  # before anything is written: a second launch into it stops here
    try:
        _check_run_dir(cfg, run_dir)
        ckpt.resolve_resume(cfg.resume, run_dir)  # --resume PATH must name a checkpoint
        cfg = _start_from_observed_limit(cfg, run_dir, plan, say)
        cfg = cfg.replace(output_dir=run_dir)
        return _write_run(cfg, plan, data, name, run_dir, lock)
    except BaseException:
        lock.release()
        raise


def _write_run(cfg: RunConfig, plan, data: Data, name: str, run_dir: str, lock) -> PreparedRun:
    from ..train.model import build_processor, folder_has_processor
    from ..writers import accelerate_config, deepspeed_config

    if not folder_has_processor(run_dir):
        if os.path.isdir(cfg.model) and folder_has_processor(cfg.model):
            from transformers import Wav2Vec2Processor

            Wav2Vec2Processor.from_pretrained(cfg.model).save_pretrained(run_dir)
        else:
            build_processor(data.vocab, run_dir)

    ds_dict = deepspeed_config(plan)
    ds_path = None
    if ds_dict is not None:
        ds_path = os.path.join(DEEPSPEED_DIR, f"{name}.json")
        text = json.dumps(ds_dict, indent=2) + "\n"
        _write(ds_path, text)
        _write(os.path.join(run_dir, f"{name}.deepspeed.json"), text)
    acc_dict = accelerate_config(plan, machine_rank=cfg.machine_rank, main_process_ip=cfg.main_process_ip,
                                 main_process_port=cfg.main_process_port, deepspeed_config_file=ds_path)
    acc_path = os.path.join(ACCELERATE_DIR, f"{name}.yaml")
    _write(acc_path, yaml.safe_dump(acc_dict, sort_keys=False))
    # the run folder's copy names the run folder's DeepSpeed JSON, so it stays valid on its own
    run_acc = dict(acc_dict)
    if ds_path:
        run_acc["deepspeed_config"] = {**acc_dict["deepspeed_config"],
                                       "deepspeed_config_file": os.path.abspath(os.path.join(run_dir, f"{name}.deepspeed.json"))}
    run_acc_path = os.path.join(run_dir, f"{name}.accelerate.yaml")
    _write(run_acc_path, yaml.safe_dump(run_acc, sort_keys=False))
    plan_dict = plan.to_dict()
    if cfg.micro_batch_limit_seconds is not None:
        plan_dict["micro_batch_limit_seconds"] = cfg.micro_batch_limit_seconds  # the OOM backoff's start
    _write(os.path.join(run_dir, PLAN_FILE), json.dumps(plan_dict, indent=2) + "\n")
    run_cfg_path = os.path.join(run_dir, RUN_CONFIG_FILE)
    _write(run_cfg_path, cfg.to_yaml())

    env = {"ASR_DIST_NUM_MACHINES": cfg.num_machines}
    if plan.hardware.is_cpu_only:
        env.setdefault("DS_ACCELERATOR", os.environ.get("DS_ACCELERATOR", "cpu"))
        # torch elastic would pin every rank to 1 thread: share the node's cores among its ranks
        per_node = max(1, plan.chosen.num_processes // max(1, plan.chosen.num_machines))
        cores = plan.hardware.nodes[0].cpu_cores
        env.setdefault("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", str(max(1, cores // per_node))))
    command = accelerate_command(run_acc_path, run_cfg_path, machine_rank=cfg.machine_rank if cfg.num_machines > 1 else None,
                                 main_process_ip=cfg.main_process_ip, main_process_port=cfg.main_process_port,
                                 env=env)
    if cfg.num_machines > 1:  # written last: the other machines start from it
        _write(os.path.join(run_dir, LAUNCH_FILE), json.dumps(
            {"token": _launch_token(cfg), "accelerate_config": run_acc_path, "run_config": run_cfg_path,
             "deepspeed_config": ds_path, "env": env}, indent=2))
    return PreparedRun(cfg, plan, run_dir, acc_path, ds_path, command, lock)
