"""launch/slurm/*.sbatch against a real SLURM cluster on localhost (started by the local_slurm
fixture): a single-node job, a USR1 -> checkpoint -> requeue -> resume job that ends where an
uninterrupted run ends, and the multi-node script with two launcher tasks standing in for two nodes."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SINGLE = os.path.join(ROOT, "launch", "slurm", "single_node.sbatch")
MULTI = os.path.join(ROOT, "launch", "slurm", "multi_node.sbatch")
BIN = os.path.dirname(sys.executable)
pytestmark = pytest.mark.slow


def read_json(path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def job_env(**extra) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    if os.path.isfile(os.path.join(os.path.dirname(BIN), "bin", "activate")):
        env["ASR_DIST_VENV"] = os.path.dirname(BIN)
    else:
        env["PATH"] = BIN + os.pathsep + env["PATH"]
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_options(corpus, *extra):
    return ["--train-manifest", os.path.join(corpus, "train.jsonl"), "--eval-manifest",
            os.path.join(corpus, "dev.jsonl"), "--effective-batch-seconds", "16", "--eval-every", "1000",
            *map(str, extra)]


def sbatch(*args, cwd, env, wait=True, timeout=300) -> subprocess.CompletedProcess:
    cmd = ["sbatch", "--parsable", *(["--wait"] if wait else []), *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def job_log(folder, job_id) -> str:
    path = os.path.join(folder, f"slurm-asr-dist-{job_id}.out")
    if not os.path.isfile(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read().replace("\r", "\n")


def stamps(log: str, pattern: str) -> list[float]:
    return [float(m.group(1)) for m in re.finditer(r"\[asr-dist sbatch (\d+\.\d+)\] " + pattern, log)]


def job_state(job_id) -> str:
    out = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True, text=True).stdout
    m = re.search(r"JobState=(\w+)", out)
    if m:
        return m.group(1)
    out = subprocess.run(["sacct", "-c", "-n", "-j", str(job_id), "-o", "State"], capture_output=True,
                         text=True).stdout.split()
    return out[-1] if out else ""


@pytest.fixture(scope="module")
def single_node_job(local_slurm, small_corpus, tmp_path_factory):
    """One single-node job (its final model also serves as the starting model of the requeue test)."""
    work = tmp_path_factory.mktemp("slurm_single")
    out = work / "run"
    t = time.time()
    proc = sbatch("--cpus-per-task=2", SINGLE, *run_options(small_corpus, "--output-dir", out, "--max-steps", 8,
                                                          "--save-every", 4), cwd=work, env=job_env())
    job_id = proc.stdout.strip().split(";")[0]
    return {"proc": proc, "job_id": job_id, "work": work, "out": out, "seconds": time.time() - t}


def test_single_node_job_trains_and_saves_the_model(single_node_job):
    j = single_node_job
    log = job_log(j["work"], j["job_id"])
    assert j["proc"].returncode == 0, j["proc"].stderr + log[-4000:]
    s = read_json(j["out"] / "run_summary.json")
    assert s["steps"] == 8 and s["exit_code"] == 0 and s["resumed_from"] is None and s["num_machines"] == 1
    assert (j["out"] / "checkpoint-8" / "trainer_state.json").is_file()
    for name in ("config.json", "model.safetensors", "vocab.json"):
        assert (j["out"] / name).is_file(), name
    from transformers import Wav2Vec2ForCTC

    Wav2Vec2ForCTC.from_pretrained(j["out"])
    assert "restart_count=0" in log and "--resume auto" in log
    print(f"single-node job {j['job_id']}: sbatch --wait {j['seconds']:.1f} s")


def test_usr1_checkpoints_requeues_and_resumes_to_the_uninterrupted_result(single_node_job, small_corpus,
                                                                             tmp_path):
    # start both runs from the same saved model (so the comparison does not depend on model init)
    assert single_node_job["proc"].returncode == 0
    # training the feature encoder too keeps the steps slow enough (~0.1 s) to signal early
    opts = run_options(small_corpus, "--model", single_node_job["out"], "--no-freeze-feature-encoder",
                       "--max-steps", 150, "--save-every", 1000, "--log-every", 5, "--seed", 7)
    t_submit = time.time()
    sub = sbatch("--cpus-per-task=2", SINGLE, *opts, "--output-dir", tmp_path / "requeued", cwd=tmp_path,
                 env=job_env(), wait=False, timeout=60)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().split(";")[0]
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until the job has trained at least one step
        if re.search(r"\s[1-9]\d*/150 \[", job_log(tmp_path, job_id)):
            break
        assert job_state(job_id) in ("PENDING", "RUNNING", "CONFIGURING"), job_log(tmp_path, job_id)[-3000:]
        time.sleep(0.2)
    else:
        pytest.fail("the job trained no step within 120 s:\n" + job_log(tmp_path, job_id)[-3000:])
    t_signal = time.time()
    subprocess.run(["scancel", "--signal=USR1", "--batch", job_id], check=True, timeout=30)

    # meanwhile: the same options, uninterrupted, straight through `asr-dist launch`
    direct = subprocess.run([os.path.join(BIN, "asr-dist"), "launch", *opts, "--output-dir", tmp_path / "direct"],
                            cwd=tmp_path, env=job_env(), capture_output=True, text=True, timeout=300)
    assert direct.returncode == 0, direct.stderr[-4000:]

    deadline = time.time() + 180
    while (state := job_state(job_id)) not in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                               "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"):
        assert time.time() < deadline, f"job {job_id} still {state}:\n" + job_log(tmp_path, job_id)[-3000:]
        time.sleep(0.25)
    t_done = time.time()
    log = job_log(tmp_path, job_id)
    assert state == "COMPLETED", log[-4000:]

    # the checkpoint, the requeue and the resumed second run, in that order
    assert re.search(r"signal received: checkpoint written to .*checkpoint-(\d+)", log), log[-4000:]
    stopped_at = int(re.search(r"checkpoint written to .*checkpoint-(\d+)", log).group(1))
    assert 1 <= stopped_at < 150
    assert "asr-dist launch exited with 75 after SIGUSR1" in log and "requeueing job" in log
    assert "restart_count=0" in log and "restart_count=1" in log
    s = read_json(tmp_path / "requeued" / "run_summary.json")
    assert s["resumed_from"] and s["resumed_from"].endswith(f"checkpoint-{stopped_at}")
    d = read_json(tmp_path / "direct" / "run_summary.json")
    assert d["resumed_from"] is None
    assert s["steps"] == d["steps"] == 150 and s["exit_code"] == 0
    assert s["samples_seen"] == d["samples_seen"]
    assert s["train_loss_final"] == pytest.approx(d["train_loss_final"], abs=1e-6)
    assert (tmp_path / "requeued" / "model.safetensors").is_file()

    got = stamps(log, r"received SIGUSR1")[0]
    exited = stamps(log, r"asr-dist launch exited with 75")[0]
    restarted = stamps(log, r"job \d+ restart_count=1")[0]
    finished = stamps(log, r"asr-dist launch exited with 0")[0]
    print(f"requeue job {job_id}: submit->signal {t_signal - t_submit:.1f} s, signal->checkpoint+exit "
          f"{exited - got:.1f} s (stopped at step {stopped_at}), exit->restart {restarted - exited:.1f} s, "
          f"restart->finished {finished - restarted:.1f} s, signal->COMPLETED seen {t_done - t_signal:.1f} s")


def test_multi_node_script_runs_two_launcher_tasks(local_slurm, small_corpus, tmp_path):
    """Two launcher tasks on this one node stand in for two nodes: SLURM gives them machine ranks 0/1,
    the head address and the port; machine 0 prepares the run folder, machine 1 joins."""
    t = time.time()
    proc = sbatch("--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1", f"--gpus-per-node={local_slurm['fake_gpus']}",
                  MULTI, *run_options(small_corpus, "--max-steps", 6, "--save-every", 3), cwd=tmp_path,
                  env=job_env(ASR_DIST_LAUNCHERS_PER_NODE=2))
    job_id = proc.stdout.strip().split(";")[0]
    log = job_log(tmp_path, job_id)
    assert proc.returncode == 0, proc.stderr + log[-5000:]
    out = tmp_path / "outputs" / f"asr-dist-{job_id}"  # derived from the job: outputs/<job name>-<job id>
    s = read_json(out / "run_summary.json")
    assert s["num_machines"] == 2 and s["world_size"] == 2 and s["steps"] == 6 and s["exit_code"] == 0
    assert f"main-process-port={20000 + int(job_id) % 20000}" in log
    assert "machine-rank=1" in log and "machine 1: done" in log
    assert (out / "checkpoint-6" / "trainer_state.json").is_file() and (out / "model.safetensors").is_file()
    print(f"multi-node job {job_id} (2 launcher tasks): sbatch --wait {time.time() - t:.1f} s")


def wait_for_step(folder, job_id, total, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if re.search(rf"\s[1-9]\d*/{total} \[", job_log(folder, job_id)):
            return
        assert job_state(job_id) in ("PENDING", "RUNNING", "CONFIGURING"), job_log(folder, job_id)[-3000:]
        time.sleep(0.2)
    pytest.fail(f"job {job_id} trained no step within {timeout} s:\n" + job_log(folder, job_id)[-3000:])


def test_plain_scancel_checkpoints_without_requeue(local_slurm, small_corpus, tmp_path):
    """scancel (SIGTERM to every process of the job, SIGKILL KillWait seconds later): the ranks
    still write a checkpoint at the next step boundary; the job is not requeued."""
    out = tmp_path / "run"
    sub = sbatch("--cpus-per-task=2", SINGLE, *run_options(small_corpus, "--output-dir", out, "--max-steps", 400,
                                                          "--save-every", 1000), cwd=tmp_path, env=job_env(),
                 wait=False, timeout=60)
    assert sub.returncode == 0, sub.stderr
    job_id = sub.stdout.strip().split(";")[0]
    wait_for_step(tmp_path, job_id, 400)
    t0 = time.time()
    subprocess.run(["scancel", job_id], check=True, timeout=30)
    deadline = time.time() + 60
    while job_state(job_id) not in ("CANCELLED", "COMPLETED", "FAILED"):
        assert time.time() < deadline, job_log(tmp_path, job_id)[-3000:]
        time.sleep(0.25)
    t_end = time.time()
    log = job_log(tmp_path, job_id)
    ckpts = sorted(p.name for p in out.glob("checkpoint-[0-9]*"))
    assert len(ckpts) == 1 and (out / ckpts[0] / "trainer_state.json").is_file(), log[-4000:]
    assert "received SIGTERM" in log and "signal received: checkpoint written" in log
    assert "requeueing" not in log and "restart_count=1" not in log
    print(f"scancel job {job_id}: TERM -> {ckpts[0]} -> job gone in {t_end - t0:.1f} s")
