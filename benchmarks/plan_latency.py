"""Plan latency: `asr-dist plan --model xls-r-1b --simulate SPEC` as a subprocess (wall time with
Python start-up and imports) and in-process (api.plan; the first call pays the imports).

    python benchmarks/plan_latency.py           # prints a table, writes benchmarks/results/plan_latency.json
    python benchmarks/plan_latency.py --tiny    # smoke test: two specs, one repeat, no JSON unless --out

Goal: under 3 s per plan from the command line. Every plan reads the same small generated
manifest (80 utterances) for its duration statistics and vocabulary; nothing is downloaded
(xls-r-1b is a preset architecture: parameters are counted from its config).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "plan_latency.json"
GOAL_SECONDS = 3.0
SPECS = ["1xA100-80GB", "8xV100-16GB", "8xA100-40GB", "4x8xA100-80GB", "2x8xH100-80GB,8xA100-40GB",
         "16x8xH100-80GB"]
MODEL = "xls-r-1b"


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("asr-dist")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "asr_dist.cli.main"]


def subprocess_seconds(spec: str, manifest: str, env: dict) -> tuple[float, str]:
    cmd = [*_cli(), "plan", "--model", MODEL, "--simulate", spec, "--train-manifest", manifest, "--json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    chosen = json.loads(proc.stdout)["chosen"]
    return seconds, f"{chosen['strategy']} x{chosen['num_processes']}"


def in_process_seconds(spec: str, manifest: str) -> float:
    from asr_dist import api

    t0 = time.perf_counter()
    api.plan(model=MODEL, simulate=spec, train_manifest=manifest, say=lambda *_: None)
    return time.perf_counter() - t0


def run(specs: list[str], repeats: int, work: str) -> dict:
    from asr_dist.data.demo import DemoSpec, write_demo_corpus

    corpus = os.path.join(work, "corpus")
    write_demo_corpus(corpus, DemoSpec(num_train=80, num_dev=1, seed=0))
    manifest = os.path.join(corpus, "train.jsonl")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": os.path.join(work, "hf_home"),
           "ASR_DIST_CACHE_DIR": os.path.join(work, "cache")}
    os.environ.update({k: env[k] for k in ("HF_HUB_OFFLINE", "HF_HOME", "ASR_DIST_CACHE_DIR")})
    sub: dict[str, list[float]] = {s: [] for s in specs}
    chosen: dict[str, str] = {}
    for _ in range(repeats):  # interleaved: every spec once per round
        for spec in specs:
            seconds, chosen[spec] = subprocess_seconds(spec, manifest, env)
            sub[spec].append(seconds)
    t0 = time.perf_counter()
    import asr_dist.api  # noqa: F401  (the package itself; api.plan imports the rest lazily)
    import_seconds = time.perf_counter() - t0
    cold = in_process_seconds(specs[0], manifest)  # pays the lazy imports (transformers config, ...)
    rows = []
    for spec in specs:
        warm = [in_process_seconds(spec, manifest) for _ in range(max(3, repeats))]
        rows.append({"spec": spec, "chosen": chosen[spec], "subprocess_seconds": sub[spec],
                     "subprocess_median": statistics.median(sub[spec]),
                     "in_process_warm_median": statistics.median(warm)})
    return {"date": time.strftime("%Y-%m-%d"), "model": MODEL, "repeats": repeats, "goal_seconds": GOAL_SECONDS,
            "in_process_package_import_seconds": import_seconds, "in_process_first_call_seconds": cold,
            "rows": rows, "meets_goal": all(r["subprocess_median"] < GOAL_SECONDS for r in rows)}


def render(r: dict) -> str:
    lines = [f"asr-dist plan --model {r['model']} --simulate SPEC (median of {r['repeats']}, interleaved)",
             f"{'SPEC':<28}{'chosen':<18}{'subprocess s':>13}{'in-process ms':>15}"]
    for row in r["rows"]:
        lines.append(f"{row['spec']:<28}{row['chosen']:<18}{row['subprocess_median']:>13.2f}"
                     f"{1000 * row['in_process_warm_median']:>15.1f}")
    lines.append(f"in-process first call (lazy imports): {r['in_process_first_call_seconds']:.2f} s; "
                 f"goal < {r['goal_seconds']:g} s per CLI plan: {'met' if r['meets_goal'] else 'NOT met'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="smoke test: two specs, one repeat, no default JSON")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help=f"JSON output (default {OUT}; --tiny writes none unless given)")
    args = ap.parse_args(argv)
    specs, repeats = (SPECS[:2], 1) if args.tiny else (SPECS, args.repeats)
    with tempfile.TemporaryDirectory() as work:
        result = run(specs, repeats, work)
    print(render(result))
    out = args.out or (None if args.tiny else str(OUT))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
