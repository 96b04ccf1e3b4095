#!/bin/bash
# gpu_check.sh - the GPU benchmarks in one unattended run (under 8 minutes), one table at the end:
#   1. throughput.py --device cuda   asr-dist's loop vs HF Trainer on one GPU (2 interleaved runs each)
#   3. memory_model.py               activation model vs measurement, estimators, plan latency
#   5. oom_recovery.py --tiny        OOM backoff cost (2 ranks)
#
#   bash benchmarks/gpu_check.sh             # from the repository root, venv active or .venv present
#
# Without a GPU (no nvidia-smi, or torch.cuda.is_available() false) it prints why and exits 0
# having run nothing. It downloads nothing: the model is the `tiny` preset built from a config and
# the data are generated. JSON goes to benchmarks/results/gpu/ (the CPU results in
# benchmarks/results/ are left as they were). Knobs: GPU_CHECK_STEPS (default 200),
# GPU_CHECK_REPEATS (default 2), CUDA_VISIBLE_DEVICES (default 0: both throughput sides on one GPU),
# GPU_CHECK_OOM_DEVICES (default 0,1). Time limits: throughput 240 s, memory_model 150 s, oom 60 s.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY=${PYTHON:-python}
[ -z "${PYTHON:-}" ] && [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ] && PY=.venv/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
export TORCH_EXTENSIONS_DIR=${TORCH_EXTENSIONS_DIR:-$PWD/.torch_extensions}
OUT=benchmarks/results/gpu
STEPS=${GPU_CHECK_STEPS:-200}
REPEATS=${GPU_CHECK_REPEATS:-2}

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check: SKIPPED - no nvidia-smi on PATH (no NVIDIA driver); nothing run"
  exit 0
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: SKIPPED - nvidia-smi present but torch.cuda.is_available() is false (CPU build of torch?);"
  echo "           install a CUDA build (TORCH_SPEC, see Makefile) and rerun"
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
mkdir -p "$OUT"
started=$SECONDS
status=()

# memory_model.py and oom_recovery.py write to benchmarks/results/: keep the CPU files, move theirs
keep=$(mktemp -d)
cp benchmarks/results/memory_model.json benchmarks/results/oom_recovery.json "$keep"/ 2>/dev/null
restore() { cp "$keep"/*.json benchmarks/results/ 2>/dev/null; rm -rf "$keep"; }
trap restore EXIT

step() {  # step NAME TIMEOUT_S COMMAND...: run with a time limit, log to $OUT/NAME.log
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 15 "$OUT/$name.log"
  status+=("$name=$rc")
}

step throughput 240 "$PY" benchmarks/throughput.py --device cuda --steps "$STEPS" --repeats "$REPEATS" \
  --utterances 1000 --out "$OUT/throughput.json"
step memory_model 150 "$PY" benchmarks/memory_model.py
[ -f benchmarks/results/memory_model.json ] && cp benchmarks/results/memory_model.json "$OUT/memory_model.json"
# oom_recovery.py launches 2 ranks: give it two GPUs where there are two (the planner decides otherwise)
step oom_recovery 60 env CUDA_VISIBLE_DEVICES="${GPU_CHECK_OOM_DEVICES:-0,1}" "$PY" benchmarks/oom_recovery.py --tiny
[ -f benchmarks/results/oom_recovery.json ] && cp benchmarks/results/oom_recovery.json "$OUT/oom_recovery.json"

"$PY" - "$OUT" "${status[@]}" <<'EOF'
import json, os, sys
out, status = sys.argv[1], dict(s.split("=") for s in sys.argv[2:])
def load(name):
    try:
        with open(os.path.join(out, f"{name}.json")) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None
rows = []
t = load("throughput") if status.get("throughput") == "0" else None
rows.append(("throughput: ours audio s/s (median)", f"{t['ours_median']:.0f}" if t else "n/a"))
rows.append(("throughput: HF Trainer audio s/s (median)", f"{t['hf_median']:.0f}" if t else "n/a"))
rows.append(("throughput: ratio ours/HF (goal >= 1.3)", f"{t['ratio_ours_over_hf']:.2f}x" if t else "n/a"))
if t:
    rows.append(("throughput: precision / padding ours, HF",
                 f"{t['ours'][0]['precision']} / {t['ours'][0]['padding_fraction']:.1%}, {t['hf'][0]['padding_fraction']:.1%}"))
m = load("memory_model") if status.get("memory_model") == "0" else None
if m:
    errs = [abs(r["error"]) for r in m["activations"]]
    rows.append(("memory model: max |activation error|", f"{max(errs):.1%}"))
    rows.append(("memory model: max |ZeRO GPU bytes error| vs DeepSpeed", f"{max(abs(r['gpu_error']) for r in m['estimators']):.1%}"))
    rows.append(("memory model: make_plan latency", f"{m['plan_latency_seconds'] * 1000:.1f} ms"))
else:
    rows.append(("memory model", "n/a"))
o = load("oom_recovery") if status.get("oom_recovery") == "0" else None
rows.append(("OOM recovery: backoff step / normal step (goal < 2)",
             f"{o['backoff_step_over_normal_step']:.2f}x" if o and o.get("backoff_step_over_normal_step") else "n/a"))
rows.append(("OOM recovery: agreement per step", f"{o['agreement_seconds_per_step'] * 1e3:.2f} ms" if o else "n/a"))
rows.append(("exit codes", ", ".join(f"{k}={v}" for k, v in status.items())))
w = max(len(r[0]) for r in rows)
print("\n" + "-" * (w + 20))
for k, v in rows:
    print(f"{k:<{w}}  {v}")
print("-" * (w + 20))
EOF
echo "gpu_check: done in $((SECONDS - started)) s; logs and JSON in $OUT/"
for s in "${status[@]}"; do [ "${s#*=}" = 0 ] || exit 1; done
exit 0
