"""Padding of our duration-budget micro-batches vs random batches vs HF group_by_length.

    python benchmarks/padding.py          # prints a table, writes benchmarks/results/padding.json
    python benchmarks/padding.py --tiny   # smoke test: small set, one budget, no file written
                                          # unless --out is given

Durations: a skewed set like real read/conversational speech: 80% between 2 and 6 s, a 20%
exponential tail from 6 s clipped at 20 s. For each micro-batch budget (padded seconds:
count x longest), three batchings of the same utterances:
  ours    data/sampler.epoch_batches: shuffle, buckets of 2048 sorted by duration, greedy packing
          up to the budget, batches shuffled;
  random  a shuffled order cut into batches of a fixed count;
  hf      transformers' group_by_length (LengthGroupedSampler): a random permutation cut into
          mega-batches of 50 x count, each sorted by length (longest first), cut into batches of
          the fixed count.
The fixed count is our mean batch size, so every batching has the same number of batches on
average. padding = padded samples / samples in the batch tensors; max_padded_seconds is the
largest padded batch (what activation memory must hold: fixed-count batchings overshoot the
budget on long utterances, ours never does except for a single utterance over budget).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from asr_dist.data.sampler import epoch_batches, padding_fraction

OUT = Path(__file__).parent / "results" / "padding.json"
GOAL = 0.05


def skewed_durations(n: int, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.8:
            out.append(rng.uniform(2.0, 6.0))
        else:
            out.append(min(20.0, 6.0 + rng.expovariate(1 / 3.5)))
    return out


def random_batches(n: int, count: int, rng: random.Random) -> list[list[int]]:
    order = list(range(n))
    rng.shuffle(order)
    return [order[i:i + count] for i in range(0, n, count)]


def hf_group_by_length(durations: list[float], count: int, rng: random.Random, mult: int = 50) -> list[list[int]]:
    order = list(range(len(durations)))
    rng.shuffle(order)
    mega = count * mult
    batches = []
    for s in range(0, len(order), mega):
        chunk = sorted(order[s:s + mega], key=lambda i: -durations[i])
        batches.extend(chunk[i:i + count] for i in range(0, len(chunk), count))
    return batches


def describe(batches: list[list[int]], durations: list[float]) -> dict:
    padded = [len(b) * max(durations[i] for i in b) for b in batches]
    return {"padding": padding_fraction(batches, durations), "batches": len(batches),
            "mean_batch_size": sum(map(len, batches)) / len(batches),
            "max_padded_seconds": max(padded)}


def run(n: int, budgets: list[float], epochs: int, seed: int = 0) -> dict:
    durations = skewed_durations(n, seed)
    rows = []
    for budget in budgets:
        per = {"ours": [], "random": [], "hf_group_by_length": []}
        t = time.perf_counter()
        for epoch in range(epochs):
            ours = epoch_batches(durations, budget, seed=seed, epoch=epoch)
            count = max(1, round(len(durations) / len(ours)))
            rng = random.Random(seed * 7919 + epoch)
            per["ours"].append(describe(ours, durations))
            per["random"].append(describe(random_batches(len(durations), count, rng), durations))
            per["hf_group_by_length"].append(describe(hf_group_by_length(durations, count, rng), durations))
        row = {"budget_seconds": budget, "fixed_count": count,
               "seconds_per_epoch_ours": (time.perf_counter() - t) / epochs}
        for name, results in per.items():
            row[name] = {k: sum(r[k] for r in results) / len(results) for k in results[0]}
            row[name]["max_padded_seconds"] = max(r["max_padded_seconds"] for r in results)
        rows.append(row)
    return {"utterances": n, "epochs_averaged": epochs, "goal_ours_padding_max": GOAL,
            "durations": {"mean": sum(durations) / n, "min": min(durations), "max": max(durations),
                          "share_2_to_6_s": sum(2 <= d <= 6 for d in durations) / n,
                          "share_over_10_s": sum(d > 10 for d in durations) / n},
            "rows": rows, "ours_within_goal": all(r["ours"]["padding"] <= GOAL for r in rows)}


def render(result: dict) -> str:
    d = result["durations"]
    lines = [f"{result['utterances']} utterances, mean {d['mean']:.2f} s, max {d['max']:.1f} s, "
             f"{d['share_2_to_6_s']:.0%} in 2-6 s, {d['share_over_10_s']:.1%} over 10 s; "
             f"{result['epochs_averaged']} epochs averaged",
             f"{'budget s':>9} {'count':>6} | {'ours':>7} {'random':>7} {'hf_gbl':>7} | "
             f"{'max padded s: ours':>19} {'random':>7} {'hf_gbl':>7}"]
    for r in result["rows"]:
        lines.append(f"{r['budget_seconds']:>9.0f} {r['fixed_count']:>6} | {r['ours']['padding']:>7.2%} "
                     f"{r['random']['padding']:>7.2%} {r['hf_group_by_length']['padding']:>7.2%} | "
                     f"{r['ours']['max_padded_seconds']:>19.1f} {r['random']['max_padded_seconds']:>7.1f} "
                     f"{r['hf_group_by_length']['max_padded_seconds']:>7.1f}")
    lines.append(f"ours <= {GOAL:.0%} at every budget: {result['ours_within_goal']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="smoke test: 2000 utterances, one budget, one epoch")
    ap.add_argument("--out", default=None, help=f"JSON output (default {OUT}; --tiny writes none unless given)")
    args = ap.parse_args(argv)
    if args.tiny:
        result = run(2000, [32.0], epochs=1)
    else:
        result = run(20000, [16.0, 32.0, 64.0, 128.0, 256.0], epochs=3)
    print(render(result))
    out = args.out or (None if args.tiny else str(OUT))
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0 if result["ours_within_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
