"""Inside a SLURM allocation: derive the run options SLURM already knows.

`derive_slurm_options` is pure (environment mapping + host names in, option changes + notes out);
`apply_slurm_env` is the thin edge that `asr_dist.launch` calls: it expands the node list
(`scontrol show hostnames`), resolves the head node's address, finds which flags the user gave,
and applies the changes.

Mapping (applied only when SLURM_JOB_ID is set, ASR_DIST_SLURM is not 0, and the option was not
given explicitly -- a flag or a YAML value that differs from the default always wins):

* num_machines   inside an srun step: SLURM_STEP_NUM_TASKS (one `asr-dist launch` per task; with
                 `srun --ntasks-per-node=1` that is SLURM_NNODES); in the batch shell itself: 1
                 (only one launcher runs there; a note says so when the job has several nodes)
* machine_rank   inside an srun step: SLURM_PROCID (= SLURM_NODEID with one task per node); else 0
* main_process_ip    (num_machines > 1) MASTER_ADDR if set, else the first host of the step's node
                 list (SLURM_STEP_NODELIST, else SLURM_JOB_NODELIST), resolved to an address
* main_process_port  (num_machines > 1) MASTER_PORT if set, else 20000 + SLURM_JOB_ID % 20000
* output_dir     outputs/<run_name or SLURM_JOB_NAME>-<SLURM_JOB_ID> (a requeued job keeps its id,
                 so it finds its folder again)
* resume         auto when SLURM_RESTART_COUNT > 0 (the job was requeued)
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass, fields
from typing import Callable, Iterable, Mapping

from ..config import RunConfig

#: the options this module may fill in
DERIVED = ("num_machines", "machine_rank", "main_process_ip", "main_process_port", "output_dir", "resume")
PORT_BASE = 20000
PORT_SPAN = 20000
#: torch elastic (accelerate's launcher) handles only these by default; a SIGUSR1 that reaches it
#: directly (srun forwards a signal to every process of the step) would kill it before the ranks
#: have written their checkpoint. With SIGUSR1 in the list it passes the signal on to the ranks.
TORCHELASTIC_SIGNALS = "SIGTERM,SIGINT,SIGHUP,SIGQUIT,SIGUSR1"


@dataclass(frozen=True)
class SlurmJob:
    """What the SLURM_* variables say about this process's place in the job."""

    job_id: str
    job_name: str
    restart_count: int
    num_nodes: int
    node_id: int
    in_step: bool           # inside an srun step (not the batch shell)
    step_tasks: int         # tasks of the step (1 in the batch shell)
    proc_id: int            # this task's rank in the step (0 in the batch shell)
    nodelist: str           # the step's node list (the job's in the batch shell)
    master_addr: str | None
    master_port: int | None

    @property
    def port(self) -> int:
        digits = re.sub(r"\D", "", self.job_id) or "0"
        return PORT_BASE + int(digits) % PORT_SPAN


def _int(env: Mapping[str, str], *names: str, default: int = 0) -> int:
    for name in names:
        match = re.match(r"\s*(\d+)", env.get(name) or "")
        if match:
            return int(match.group(1))
    return default


def slurm_job(env: Mapping[str, str]) -> SlurmJob | None:
    """The SLURM job this process runs in (None outside SLURM, or with ASR_DIST_SLURM=0)."""
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id or env.get("ASR_DIST_SLURM", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    in_step = bool((env.get("SLURM_STEP_ID") or env.get("SLURM_STEPID") or "").strip().isdigit())
    port = _int(env, "MASTER_PORT", default=-1)
    return SlurmJob(
        job_id=job_id.strip(), job_name=env.get("SLURM_JOB_NAME") or "slurm",
        restart_count=_int(env, "SLURM_RESTART_COUNT"),
        num_nodes=_int(env, "SLURM_NNODES", "SLURM_JOB_NUM_NODES", default=1),
        node_id=_int(env, "SLURM_NODEID"),
        in_step=in_step,
        step_tasks=_int(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", default=1) if in_step else 1,
        proc_id=_int(env, "SLURM_PROCID") if in_step else 0,
        nodelist=(env.get("SLURM_STEP_NODELIST") if in_step else None) or env.get("SLURM_JOB_NODELIST")
        or env.get("SLURM_NODELIST") or "",
        master_addr=(env.get("MASTER_ADDR") or "").strip() or None,
        master_port=port if port > 0 else None)


def expand_nodelist(nodelist: str) -> list[str]:
    """`gpu[01-03,07],login1` -> ['gpu01', 'gpu02', 'gpu03', 'gpu07', 'login1'] (pure fallback for
    `scontrol show hostnames`; handles one or more bracket groups per name)."""
    parts, depth, cur = [], 0, ""
    for ch in nodelist.strip():
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "["
        depth -= ch == "]"
        cur += ch
    parts.append(cur)
    hosts: list[str] = []
    for part in filter(None, (p.strip() for p in parts)):
        names = [""]
        for literal, group in re.findall(r"([^\[]*)(?:\[([^\]]*)\])?", part):
            expanded = []
            for item in group.split(",") if group else [""]:
                if "-" in item:
                    lo, hi = item.split("-", 1)
                    expanded += [str(i).zfill(len(lo)) for i in range(int(lo), int(hi) + 1)]
                else:
                    expanded.append(item)
            names = [n + literal + e for n in names for e in expanded]
        hosts += names
    return hosts


def _safe_name(name: str) -> str:
    name = re.sub(r"\.(sbatch|sh|slurm)$", "", name)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "slurm"


def explicit_options(cfg: RunConfig) -> set[str]:
    """Options whose value differs from the default (given by a flag or a YAML file)."""
    default = RunConfig()
    return {f.name for f in fields(RunConfig) if getattr(cfg, f.name) != getattr(default, f.name)}


def derive_slurm_options(cfg: RunConfig, job: SlurmJob | None, hostnames: Iterable[str] = (),
                         explicit: Iterable[str] | None = None,
                         resolve: Callable[[str], str] = lambda host: host) -> tuple[dict, list[str]]:
    """The option changes SLURM implies for `cfg` and one note per change (pure).

    `hostnames`: the expanded node list (first = head node); `explicit`: names of options the
    user gave (default: those that differ from RunConfig's defaults); `resolve`: host -> address."""
    if job is None:
        return {}, []
    given = set(explicit_options(cfg) if explicit is None else explicit)
    changes: dict = {}
    notes: list[str] = []

    num_machines = cfg.num_machines
    if "num_machines" not in given:
        num_machines = job.step_tasks if job.in_step else 1
        if num_machines != cfg.num_machines:
            changes["num_machines"] = num_machines
        if job.in_step and job.step_tasks > job.num_nodes:
            notes.append(f"{job.step_tasks} launcher tasks on {job.num_nodes} node(s): each task is one machine "
                         f"(use srun --ntasks-per-node=1 for one launcher per node)")
        if not job.in_step and job.num_nodes > 1:
            notes.append(f"the job has {job.num_nodes} nodes but this launcher runs outside an srun step: "
                         f"training on this node only (launch/slurm/multi_node.sbatch starts one launcher "
                         f"per node)")
    if num_machines > 1:
        if "machine_rank" not in given:
            # one launcher per task: the task's rank in the step; tasks beyond the machine count
            # (explicit --num-machines smaller than the step) fall back to the node id
            rank = job.proc_id if job.step_tasks == num_machines else job.node_id
            if rank != cfg.machine_rank:
                changes["machine_rank"] = rank
        if "main_process_ip" not in given:
            hosts = list(hostnames)
            head = job.master_addr or (resolve(hosts[0]) if hosts else None)
            if head:
                changes["main_process_ip"] = head
        if "main_process_port" not in given:
            changes["main_process_port"] = job.master_port or job.port
    if "output_dir" not in given and not cfg.output_dir:
        changes["output_dir"] = os.path.join("outputs", f"{_safe_name(cfg.run_name or job.job_name)}-{job.job_id}")
    if "resume" not in given and cfg.resume == "none" and job.restart_count > 0:
        changes["resume"] = "auto"

    if changes:
        what = ", ".join(f"{k.replace('_', '-')}={v}" for k, v in changes.items())
        notes.insert(0, f"SLURM job {job.job_id}" + (f" (restart {job.restart_count})" if job.restart_count else "")
                     + f": {what}")
    return changes, notes


# --- the edge --------------------------------------------------------------------------------

def scontrol_hostnames(nodelist: str, timeout: float = 20.0) -> list[str]:
    """`scontrol show hostnames NODELIST`, falling back to the pure expander."""
    if not nodelist:
        return []
    scontrol = shutil.which("scontrol")
    if scontrol:
        try:
            out = subprocess.run([scontrol, "show", "hostnames", nodelist], capture_output=True, text=True,
                                 timeout=timeout, check=True).stdout.split()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return expand_nodelist(nodelist)


def resolve_host(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        return host


def _cli_explicit() -> set[str] | None:
    """Option names given on the command line of the running Click command (None outside Click)."""
    try:
        import click
        from click.core import ParameterSource
    except ImportError:  # pragma: no cover
        return None
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    names = set()
    for name in DERIVED:
        try:
            source = ctx.get_parameter_source(name)
        except Exception:  # noqa: BLE001 - not a parameter of this command
            continue
        if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT, ParameterSource.PROMPT):
            names.add(name)
    return names


def apply_slurm_env(cfg: RunConfig, env: Mapping[str, str], say=print, explicit: Iterable[str] | None = None,
                    hostnames: Iterable[str] | None = None) -> RunConfig:
    """`cfg` with the options this SLURM job implies (unchanged outside SLURM)."""
    job = slurm_job(env)
    if job is None:
        return cfg
    if explicit is None:
        explicit = explicit_options(cfg) | (_cli_explicit() or set())
    if env is os.environ:
        # accelerate's launcher (torch elastic) must pass a SIGUSR1 that srun sends to the whole
        # step on to the ranks instead of dying from it
        os.environ.setdefault("TORCHELASTIC_SIGNALS_TO_HANDLE", TORCHELASTIC_SIGNALS)
    explicit = set(explicit)
    if hostnames is None:  # ask scontrol only when the head node's address is needed
        changes, _ = derive_slurm_options(cfg, job, (), explicit)
        multi = changes.get("num_machines", cfg.num_machines) > 1
        needs = multi and not job.master_addr and "main_process_ip" not in explicit
        hostnames = scontrol_hostnames(job.nodelist) if needs else ()
    changes, notes = derive_slurm_options(cfg, job, hostnames, explicit, resolve=resolve_host)
    for note in notes:
        say(note)
    return cfg.replace(**changes) if changes else cfg
