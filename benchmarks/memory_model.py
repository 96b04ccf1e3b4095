"""Memory model vs measurement and vs DeepSpeed's estimators; plan latency.

    python benchmarks/memory_model.py      # prints tables, writes benchmarks/results/memory_model.json

1. Saved activations, predicted (planning/activations.py + calibration.json) vs measured on CPU
   (planning/calibrate.measure: saved_tensors_hooks, peak of live saved storages), for the tiny
   model in fp32 and bf16 autocast, checkpointing off/on, and for a 2-layer XLS-R-300M-shaped
   model (full width: checks that constants fitted on tiny carry over to XLS-R widths).
2. Model-state bytes per GPU and CPU RAM per node vs deepspeed's estimate_zero2/zero3_model_states_mem_needs.
3. make_plan latency for xls-r-1b on 4x8xA100-80GB.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

from asr_dist.hardware.inventory import parse_simulate  # noqa: E402
from asr_dist.planning import activations as act  # noqa: E402
from asr_dist.planning import calibrate  # noqa: E402
from asr_dist.planning.memory import GIB, model_state_bytes  # noqa: E402
from asr_dist.planning.model_inspect import inspect_model  # noqa: E402
from asr_dist.planning.planner import DataStats, make_plan  # noqa: E402

OUT = Path(__file__).parent / "results" / "memory_model.json"
TINY = [(1, 1.0), (4, 2.0), (8, 0.5), (2, 4.0), (3, 3.0), (6, 1.5)]
XLSR_SMALL = {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
              "num_hidden_layers": 2, "conv_dim": (512,) * 7, "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
              "conv_stride": (5, 2, 2, 2, 2, 2, 2), "num_conv_pos_embeddings": 128,
              "num_conv_pos_embedding_groups": 16}


def activation_rows(tiny: bool = False):
    rows = []
    calib = act.load_calibration()
    models = (("tiny", {}, TINY[:2]),) if tiny else (
        ("tiny", {}, TINY), ("xls-r-300m x2 layers", XLSR_SMALL, [(1, 2.0), (2, 4.0), (4, 3.0)]))
    for label, overrides, shapes in models:
        model = calibrate.build(overrides)
        summary = calibrate.summary_of(model)
        for precision in ("fp32", "bf16"):
            for ckpt in (False, True):
                for b, s in shapes:
                    measured = calibrate.measure(model, b, s, checkpointing=ckpt, precision=precision)
                    predicted = act.saved_activation_bytes(
                        summary, calib.for_precision(precision), batch_size=b, longest_seconds=s,
                        checkpointing=ckpt)
                    rows.append(dict(model=label, precision=precision, checkpointing=ckpt, batch=b,
                                     seconds=s, measured=measured, predicted=predicted,
                                     error=predicted / measured - 1))
    return rows


def estimator_rows():
    import deepspeed.runtime.zero.stage3 as z3
    import deepspeed.runtime.zero.stage_1_and_2 as z2

    rows = []
    for name in ("xls-r-300m", "xls-r-1b", "xls-r-2b"):
        s = inspect_model(name)
        P, L = s.params_total, s.largest_layer_params
        for gpn, nodes in ((1, 1), (8, 1), (8, 4)):
            def ours(strategy):
                return model_state_bytes(strategy, params_total=P, params_trainable=P,
                                         largest_layer_params=L, hidden_size=s.hidden_size,
                                         world_size=gpn * nodes, gpus_per_node=gpn, num_nodes=nodes,
                                         precision="bf16")
            cases = {
                "zero2": z2.estimate_zero2_model_states_mem_needs(P, gpn, nodes, cpu_offload=False),
                "zero2-offload": z2.estimate_zero2_model_states_mem_needs(P, gpn, nodes, cpu_offload=True),
                "zero3": z3.estimate_zero3_model_states_mem_needs(P, L, gpn, nodes, cpu_offload=False,
                                                                  cpu_offload_params=False)[:2],
                "zero3-offload": z3.estimate_zero3_model_states_mem_needs(P, L, gpn, nodes)[:2],
            }
            for strategy, (cpu, gpu) in cases.items():
                o = ours(strategy)
                rows.append(dict(model=name, gpus=gpn * nodes, nodes=nodes, strategy=strategy,
                                 ours_gpu=o.gpu_model_states, ds_gpu=int(gpu),
                                 gpu_error=o.gpu_model_states / gpu - 1,
                                 ours_cpu=o.cpu_bytes_per_node, ds_cpu=int(cpu),
                                 cpu_error=o.cpu_bytes_per_node / cpu - 1))
    return rows


def plan_latency():
    model = inspect_model("xls-r-1b")
    inv = parse_simulate("4x8xA100-80GB")
    data = DataStats(count=100_000, hours=138.9, mean=5.0, p50=4.5, p95=12.0, max=20.0)
    make_plan(inv, model, data, effective_batch_seconds=1600)
    start = time.perf_counter()
    n = 50
    for _ in range(n):
        plan = make_plan(inv, model, data, effective_batch_seconds=1600)
    return (time.perf_counter() - start) / n, plan.chosen.strategy


def main():
    import argparse

    global OUT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tiny", action="store_true", help="two tiny-model shapes only (a smoke test)")
    ap.add_argument("--out", type=Path, default=OUT, help="where to write the JSON")
    args = ap.parse_args()
    OUT = args.out
    acts = activation_rows(tiny=args.tiny)
    print(f"{'model':<22}{'prec':<6}{'ckpt':<6}{'batch':>6}{'sec':>6}{'measured MB':>13}{'predicted MB':>14}{'error':>8}")
    for r in acts:
        print(f"{r['model']:<22}{r['precision']:<6}{str(r['checkpointing']):<6}{r['batch']:>6}{r['seconds']:>6}"
              f"{r['measured'] / 1e6:>13.2f}{r['predicted'] / 1e6:>14.2f}{r['error']:>+8.1%}")
    est = estimator_rows()
    print(f"\n{'model':<12}{'gpus':>5}{'nodes':>6}  {'strategy':<15}{'ours GPU GiB':>13}{'DS GPU GiB':>11}{'err':>7}"
          f"{'ours CPU GiB':>13}{'DS CPU GiB':>11}{'err':>7}")
    for r in est:
        print(f"{r['model']:<12}{r['gpus']:>5}{r['nodes']:>6}  {r['strategy']:<15}{r['ours_gpu'] / GIB:>13.2f}"
              f"{r['ds_gpu'] / GIB:>11.2f}{r['gpu_error']:>+7.1%}{r['ours_cpu'] / GIB:>13.1f}"
              f"{r['ds_cpu'] / GIB:>11.1f}{r['cpu_error']:>+7.1%}")
    latency, chosen = plan_latency()
    print(f"\nmake_plan(xls-r-1b, 4x8xA100-80GB): {latency * 1000:.2f} ms per plan (chose {chosen})")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"activations": acts, "estimators": est,
                               "plan_latency_seconds": latency}, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
