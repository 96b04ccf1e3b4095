"""The SLURM_* environment -> run options mapping (pure; no cluster needed)."""
import pytest

from asr_dist.config import RunConfig
from asr_dist.launching.slurm import (apply_slurm_env, derive_slurm_options, expand_nodelist, explicit_options,
                                      slurm_job)

BATCH = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "asr-dist", "SLURM_NNODES": "1", "SLURM_NODEID": "0",
         "SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_JOB_NODELIST": "gpu07"}


def step(nodes=2, tasks=2, procid=1, nodeid=1, **extra):
    env = {**BATCH, "SLURM_NNODES": str(nodes), "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_STEP_ID": "0",
           "SLURM_STEP_NUM_TASKS": str(tasks), "SLURM_PROCID": str(procid), "SLURM_NODEID": str(nodeid),
           "SLURM_STEP_NODELIST": "gpu[07-08]"}
    env.update(extra)
    return env


def derive(cfg, env, hosts=("gpu07", "gpu08"), explicit=None):
    return derive_slurm_options(cfg, slurm_job(env), hosts, explicit, resolve=lambda h: f"ip-of-{h}")[0]


def test_outside_slurm_nothing_changes():
    assert slurm_job({}) is None
    cfg = RunConfig()
    assert apply_slurm_env(cfg, {"HOME": "/root"}, say=lambda _: None) is cfg
    assert slurm_job({**BATCH, "ASR_DIST_SLURM": "0"}) is None


def test_batch_shell_is_one_machine_with_a_job_folder():
    changes = derive(RunConfig(), BATCH)
    assert changes == {"output_dir": "outputs/asr-dist-4242"}  # no multi-machine options for one machine
    assert derive(RunConfig(run_name="exp1"), BATCH) == {"output_dir": "outputs/exp1-4242"}
    assert derive(RunConfig(), {**BATCH, "SLURM_JOB_NAME": "single_node.sbatch"})["output_dir"] == \
        "outputs/single_node-4242"


def test_srun_step_gives_machines_rank_head_and_port():
    changes = derive(RunConfig(), step())
    assert changes == {"num_machines": 2, "machine_rank": 1, "main_process_ip": "ip-of-gpu07",
                       "main_process_port": 20000 + 4242 % 20000, "output_dir": "outputs/asr-dist-4242"}
    assert "machine_rank" not in derive(RunConfig(), step(procid=0, nodeid=0))  # rank 0 is the default
    assert derive(RunConfig(), {**step(), "SLURM_JOB_ID": "123456"})["main_process_port"] == 20000 + 123456 % 20000


def test_two_launcher_tasks_on_one_node_are_two_machines():
    changes = derive(RunConfig(), step(nodes=1, tasks=2, procid=1, nodeid=0), hosts=("vm",))
    assert changes["num_machines"] == 2 and changes["machine_rank"] == 1


def test_master_addr_and_port_from_the_environment_win_over_derivation():
    changes = derive(RunConfig(), step(MASTER_ADDR="10.0.0.1", MASTER_PORT="29511"), hosts=())
    assert changes["main_process_ip"] == "10.0.0.1" and changes["main_process_port"] == 29511


def test_explicit_options_win():
    cfg = RunConfig(num_machines=4, main_process_ip="head", main_process_port=1234, output_dir="runs/x",
                    resume="PATH/checkpoint-8")
    changes = derive(cfg, step(nodes=4, tasks=4, procid=3, nodeid=3, SLURM_RESTART_COUNT="2"))
    assert changes == {"machine_rank": 3}
    # a flag given on the command line counts even when it equals the default
    changes = derive(RunConfig(), step(), explicit={"num_machines"})
    assert "num_machines" not in changes and "machine_rank" not in changes and "main_process_ip" not in changes
    assert explicit_options(RunConfig(seed=3, output_dir="o")) == {"seed", "output_dir"}


def test_requeued_job_resumes_automatically():
    assert derive(RunConfig(), {**BATCH, "SLURM_RESTART_COUNT": "1"})["resume"] == "auto"
    assert "resume" not in derive(RunConfig(), {**BATCH, "SLURM_RESTART_COUNT": "0"})
    assert "resume" not in derive(RunConfig(resume="auto"), {**BATCH, "SLURM_RESTART_COUNT": "1"})


def test_apply_uses_given_hostnames_and_reports():
    said = []
    cfg = apply_slurm_env(RunConfig(), step(procid=0, nodeid=0), say=said.append, hostnames=["localhost"],
                          explicit=set())
    assert cfg.num_machines == 2 and cfg.machine_rank == 0 and cfg.main_process_ip == "127.0.0.1"
    assert said and "SLURM job 4242" in said[0]


@pytest.mark.parametrize("nodelist, hosts", [
    ("gpu07", ["gpu07"]),
    ("gpu[07-09,12]", ["gpu07", "gpu08", "gpu09", "gpu12"]),
    ("a[1-2],login,b[08-09]", ["a1", "a2", "login", "b08", "b09"]),
    ("r[1-2]n[1,3]", ["r1n1", "r1n3", "r2n1", "r2n3"]),
])
def test_expand_nodelist(nodelist, hosts):
    assert expand_nodelist(nodelist) == hosts
