"""OOM recovery cost: step time with one backoff vs the same step without, and the per-step cost
of the cross-rank agreement when nothing fails. Two real 2-process DDP runs on the demo corpus,
side by side (the machine is noisy: read the ratios).

    python benchmarks/oom_recovery.py [--tiny] [--steps N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(work, name, corpus, steps, env=None):
    out = os.path.join(work, name)
    cmd = [sys.executable, "-m", "asr_dist.cli.main", "launch", "--train-manifest", os.path.join(corpus, "train.jsonl"),
           "--output-dir", out, "--num-processes", "2", "--max-steps", str(steps), "--log-every", "1",
           "--eval-every", "100000", "--save-every", "100000", "--effective-batch-seconds", "32"]
    proc = subprocess.run(cmd, cwd=work, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{name} run failed:\n{proc.stderr[-3000:]}")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(os.path.join(out, "logs"))
    ea.Reload()
    times = {e.step: e.value for e in ea.Scalars("perf/step_seconds")}
    with open(os.path.join(out, "run_summary.json")) as fh:
        return times, json.load(fh)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true", help="a few steps, for a smoke test")
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    steps = 4 if args.tiny else args.steps
    from_step = 2 if args.tiny else 10  # after the first steps' warm-up (new shapes, allocator)
    from asr_dist.data.demo import DemoSpec, write_demo_corpus

    with tempfile.TemporaryDirectory() as work:
        corpus = os.path.join(work, "corpus")
        write_demo_corpus(corpus, DemoSpec(num_train=80 if args.tiny else 400, num_dev=4))
        plain_t, plain = _run(work, "plain", corpus, steps)
        oom_t, oom = _run(work, "oom", corpus, steps, {"ASR_DIST_INJECT_OOM": f"rank=1,max_batch_seconds=9,from_step={from_step}"})
    event_steps = sorted({e["step"] for e in oom["oom_backoffs"]})
    ratios = [oom_t[s] / plain_t[s] for s in event_steps if s in oom_t and s in plain_t]
    for s in event_steps:
        print(f"  step {s}: {plain_t.get(s, float('nan')):.4f} s without, {oom_t.get(s, float('nan')):.4f} s with a backoff")
    normal = [plain_t[s] for s in sorted(plain_t) if s > 1]
    step_s = statistics.median(normal) if normal else float("nan")
    agree = plain["agreement_seconds_per_step"]
    result = {
        "steps": steps, "backoff_events": len(oom["oom_backoffs"]), "event_steps": event_steps,
        "step_seconds_median": step_s,
        "backoff_step_over_normal_step": statistics.median(ratios) if ratios else None,
        "agreement_seconds_per_step": agree,
        "agreement_fraction_of_step": agree / step_s if step_s == step_s and step_s > 0 else None,
        "samples_equal": oom["samples_seen"] == plain["samples_seen"],
    }
    print("OOM recovery (2-process DDP on CPU, gloo)")
    print(f"  normal step (median)            {step_s:.4f} s")
    r = result["backoff_step_over_normal_step"]
    print(f"  step with a backoff / same step {r:.2f}x  (goal < 2x; {len(event_steps)} step(s) with backoff)"
          if r else "  no backoff happened")
    print(f"  agreement per step, no OOM      {agree * 1e3:.3f} ms = {100 * (result['agreement_fraction_of_step'] or 0):.2f}% of a step")
    print(f"  samples seen equal              {result['samples_equal']}")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "oom_recovery.json"), "w") as fh:
        json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
