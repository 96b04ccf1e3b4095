"""Training throughput: asr-dist's own Accelerate loop vs HF Trainer, same tiny model, same data.

    python benchmarks/throughput.py              # 3 interleaved runs each, writes benchmarks/results/throughput.json
    python benchmarks/throughput.py --tiny       # smoke test: 80 utterances, 6 steps, 1 run each
    python benchmarks/throughput.py --profile    # also profile our loop (py-spy if installed, else cProfile)
    python benchmarks/throughput.py --device cuda   # on a GPU machine (benchmarks/gpu_check.sh)

Both sides train PRESETS['tiny'] (vocabulary from the data, same seed, same initial weights) on a
generated demo corpus (asr_dist.data.demo, default 1000 utterances), with the same learning rate,
warmup, linear schedule, clipping 1.0, AdamW, max_steps, no evaluation and no checkpoints, fp32 on
CPU (on CUDA: the precision our plan chose, for both).

  ours  `asr-dist launch --effective-batch-seconds E --eval-every 100000 --save-every 100000`
        (a subprocess through `accelerate launch`); throughput = run_summary.json
        `audio_seconds_per_second` (the loop only: no start-up, no final save).
  hf    transformers.Trainer set up as examples/pytorch/speech-recognition/
        run_speech_recognition_ctc.py does: dataset.map(prepare_dataset) (audio decoded and
        normalised once, before training), its DataCollatorCTCWithPadding (processor.pad),
        group_by_length with length_column_name="input_length", dataloader workers as the machine
        allows; per_device_train_batch_size x gradient_accumulation_steps = round(E / mean
        duration) utterances per step, so the mean audio per step matches ours. Throughput =
        real audio seconds consumed / metrics["train_runtime"] (the train loop only; the map()
        preprocessing is reported separately).

Runs alternate (ours, hf, hf, ours, ...) and the medians are compared: the machine is shared.
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

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "throughput.json"
GOAL_RATIO = 1.3
SEED = 42


# --- the corpus --------------------------------------------------------------------------------
def make_corpus(folder: str, utterances: int) -> str:
    """A generated corpus with train.jsonl only (no dev.jsonl: no evaluation on either side)."""
    from asr_dist.data.demo import DemoSpec, write_demo_corpus

    if not os.path.isfile(os.path.join(folder, "train.jsonl")):
        write_demo_corpus(folder, DemoSpec(num_train=utterances, num_dev=1, seed=0))
        os.remove(os.path.join(folder, "dev.jsonl"))
    return os.path.join(folder, "train.jsonl")


def read_manifest(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _env(work: str, threads: int | None) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": os.path.join(work, "hf_home"),
           "ASR_DIST_CACHE_DIR": os.path.join(work, "asr_dist_cache"), "TOKENIZERS_PARALLELISM": "false"}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


# --- ours --------------------------------------------------------------------------------------
def run_ours(work: str, manifest: str, name: str, a) -> dict:
    out = os.path.join(work, name)
    cmd = [sys.executable, "-m", "asr_dist.cli.main", "launch", "--train-manifest", manifest, "--output-dir", out,
           "--max-steps", str(a.steps), "--warmup-steps", str(a.warmup), "--learning-rate", str(a.lr),
           "--effective-batch-seconds", str(a.effective_batch_seconds), "--eval-every", "100000",
           "--save-every", "100000", "--log-every", str(max(1, a.steps)), "--seed", str(SEED)]
    if a.device == "cpu":
        cmd += ["--precision", "fp32"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, env=_env(work, a.threads), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"asr-dist run {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with open(os.path.join(out, "run_summary.json"), encoding="utf-8") as fh:
        s = json.load(fh)
    durations = [u["duration"] for u in read_manifest(manifest)]
    return {"audio_seconds_per_second": s["audio_seconds_per_second"],
            "loop_seconds": s["wall_seconds"], "process_wall_seconds": wall,
            "steps": s["steps"], "utterances": s["samples_seen"],
            "audio_seconds_per_step": s["audio_seconds_seen"] / max(1, s["steps"]),
            "utterances_per_step": s["samples_seen"] / max(1, s["steps"]),
            "micro_batch_seconds": s["micro_batch_seconds"], "accumulation": s["gradient_accumulation_steps"],
            "precision": s["precision"], "strategy": s["strategy"], "world_size": s["world_size"],
            "padding_fraction": our_padding(durations, s["micro_batch_seconds"], s["steps"] * s["gradient_accumulation_steps"]),
            "train_loss_final": s["train_loss_final"], "run_dir": out}


def our_padding(durations: list[float], budget: float, micro_batches: int) -> float:
    """Padding of the micro-batches the run consumed (the sampler is pure: replay it)."""
    from asr_dist.data.sampler import DurationBatchSampler, padding_fraction

    sampler = DurationBatchSampler(durations, budget, seed=SEED)
    return padding_fraction([sampler.next_group() for _ in range(micro_batches)], durations)


# --- HF Trainer (runs in its own process: python throughput.py --hf-worker ARGS.json) ----------
def hf_worker(args_path: str) -> None:
    with open(args_path, encoding="utf-8") as fh:
        a = json.load(fh)
    import soundfile as sf
    import torch
    from datasets import load_dataset
    from transformers import Trainer, TrainingArguments, set_seed
    from transformers.utils import logging as hf_logging

    from asr_dist.config import RunConfig
    from asr_dist.data.text import build_vocab
    from asr_dist.runs import freezes_feature_encoder
    from asr_dist.train.model import build_model, build_processor

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    manifest, work = a["manifest"], a["work"]
    base = os.path.dirname(manifest)
    rows = read_manifest(manifest)
    processor = build_processor(build_vocab(r["text"] for r in rows), os.path.join(work, "processor"))
    fe, tok = processor.feature_extractor, processor.tokenizer

    # --- run_speech_recognition_ctc.py: load, map(prepare_dataset), keep input_length ---------
    t0 = time.perf_counter()
    ds = load_dataset("json", data_files=manifest, split="train", cache_dir=a["datasets_cache"])  # shared: map() runs once

    def prepare_dataset(batch):
        # the example reads batch["audio"]["array"] from datasets' Audio feature (torchcodec);
        # soundfile decodes the same WAV here (see /work/shared/NOTES-machines.md)
        audio, rate = sf.read(os.path.join(base, batch["audio_filepath"]), dtype="float32")
        inputs = fe(audio, sampling_rate=rate)
        batch["input_values"] = inputs.input_values[0]
        batch["input_length"] = len(batch["input_values"])
        batch["labels"] = tok(batch["text"]).input_ids
        return batch

    ds = ds.map(prepare_dataset, remove_columns=ds.column_names, num_proc=a["preprocessing_workers"] or None)
    preprocess_seconds = time.perf_counter() - t0

    class DataCollatorCTCWithPadding:  # the example's collator, plus two bookkeeping numbers
        def __call__(self, features):
            input_features = [{"input_values": f["input_values"]} for f in features]
            label_features = [{"input_ids": f["labels"]} for f in features]
            batch = processor.pad(input_features, padding=True, return_tensors="pt")
            labels_batch = processor.pad(labels=label_features, padding=True, return_tensors="pt")
            batch["labels"] = labels_batch["input_ids"].masked_fill(labels_batch.attention_mask.ne(1), -100)
            lengths = [len(f["input_values"]) for f in features]
            batch["bench_real"] = torch.tensor(float(sum(lengths)))
            batch["bench_padded"] = torch.tensor(float(len(lengths) * max(lengths)))
            return batch

    class BenchTrainer(Trainer):
        real = padded = 0.0
        micro_batches = 0

        def training_step(self, model, inputs, *args, **kwargs):
            self.real += float(inputs.pop("bench_real"))
            self.padded += float(inputs.pop("bench_padded"))
            self.micro_batches += 1
            return super().training_step(model, inputs, *args, **kwargs)

    set_seed(SEED)
    model = build_model("tiny", processor, freeze_feature_encoder=freezes_feature_encoder(RunConfig()))
    cuda = a["device"] == "cuda"
    kwargs = dict(output_dir=os.path.join(work, "hf_out"), per_device_train_batch_size=a["batch"],
                  gradient_accumulation_steps=a["accumulation"], length_column_name="input_length",
                  learning_rate=a["lr"], warmup_steps=a["warmup"], max_steps=a["steps"], lr_scheduler_type="linear",
                  weight_decay=0.0, max_grad_norm=1.0, optim="adamw_torch", save_strategy="no", eval_strategy="no",
                  logging_steps=max(1, a["steps"]), report_to="none", disable_tqdm=True,
                  dataloader_num_workers=a["dataloader_workers"], seed=SEED, use_cpu=not cuda,
                  bf16=cuda and a["precision"] == "bf16", fp16=cuda and a["precision"] == "fp16")
    try:
        args = TrainingArguments(train_sampling_strategy="group_by_length", **kwargs)  # transformers >= 5
    except TypeError:
        args = TrainingArguments(group_by_length=True, **kwargs)
    trainer = BenchTrainer(model=model, data_collator=DataCollatorCTCWithPadding(), args=args, train_dataset=ds,
                           processing_class=processor)
    metrics = trainer.train().metrics
    runtime = metrics["train_runtime"]
    real_seconds = trainer.real / 16000
    result = {"audio_seconds_per_second": real_seconds / runtime, "loop_seconds": runtime,
              "preprocess_seconds": preprocess_seconds, "steps": trainer.state.global_step,
              "audio_seconds_per_step": real_seconds / max(1, trainer.state.global_step),
              "utterances_per_step": a["batch"] * a["accumulation"],
              "padding_fraction": 1 - trainer.real / trainer.padded if trainer.padded else 0.0,
              "micro_batches": trainer.micro_batches, "train_loss_final": metrics.get("train_loss"),
              "batch": a["batch"], "accumulation": a["accumulation"],
              "dataloader_workers": a["dataloader_workers"], "torch_threads": torch.get_num_threads(),
              "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"}
    with open(a["result"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)


def run_hf(work: str, manifest: str, name: str, a, batch: int, accumulation: int, precision: str) -> dict:
    folder = os.path.join(work, name)
    os.makedirs(folder, exist_ok=True)
    spec = {"manifest": manifest, "work": folder, "steps": a.steps, "warmup": a.warmup, "lr": a.lr,
            "batch": batch, "accumulation": accumulation, "device": a.device, "precision": precision,
            "dataloader_workers": a.hf_workers, "preprocessing_workers": a.hf_preprocessing_workers,
            "result": os.path.join(folder, "result.json"),
            "datasets_cache": os.path.join(work, "ds_cache")}
    path = os.path.join(folder, "args.json")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(spec, fh)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--hf-worker", path], cwd=folder,
                          env=_env(work, a.threads), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"HF Trainer run {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with open(spec["result"], encoding="utf-8") as fh:
        return {**json.load(fh), "process_wall_seconds": wall}


# --- profile of our loop -------------------------------------------------------------------------
CATEGORIES = (  # (label, substrings of a py-spy frame "function (path:line)"); leaf-most match wins
    ("audio decode (soundfile)", ("data/audio.py", "soundfile.py")),
    ("feature extractor (normalise + pad)", ("feature_extraction_",)),
    ("tokenizer (labels)", ("tokenization_", "tokenizers")),
    ("optimizer step (AdamW)", ("torch/optim/",)),
    ("gradient clipping", ("clip_grad",)),
    ("backward", ("torch/autograd/", "_tensor.py")),
    ("model forward (incl. CTC loss)", ("modeling_wav2vec2.py",)),
    ("logging / TensorBoard / progress", ("monitor.py", "tensorboard", "tqdm")),
    ("sampler", ("data/sampler.py",)),
)


def profile_ours(work: str, manifest: str, a) -> dict:
    """Sample our loop (the `train` command of a prepared run folder, one process, no accelerate
    launcher in between) and attribute time to categories. py-spy when present, else cProfile."""
    folder = os.path.join(work, "profile")
    cmd = [sys.executable, "-m", "asr_dist.cli.main", "launch", "--train-manifest", manifest, "--output-dir", folder,
           "--max-steps", str(a.steps), "--warmup-steps", str(a.warmup), "--learning-rate", str(a.lr),
           "--effective-batch-seconds", str(a.effective_batch_seconds), "--eval-every", "100000",
           "--save-every", "100000", "--log-every", "10", "--seed", str(SEED), "--dry-run"]
    if a.device == "cpu":
        cmd += ["--precision", "fp32"]
    env = _env(work, a.threads or os.cpu_count())
    subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True)
    train = [sys.executable, "-m", "asr_dist.cli.main", "train", "--config", os.path.join(folder, "run_config.yaml")]
    import shutil

    beside = Path(sys.executable).with_name("py-spy")
    pyspy = str(beside) if beside.is_file() else shutil.which("py-spy")
    if pyspy:
        raw = os.path.join(work, "profile.txt")
        proc = subprocess.run([pyspy, "record", "--format", "raw", "--rate", "200", "--output", raw, "--", *train],
                              cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode == 0 and os.path.isfile(raw):
            return {"tool": "py-spy 200 Hz", **_categorise_pyspy(raw)}
        print(f"py-spy failed ({proc.returncode}): {proc.stderr.strip()[-300:]}; using cProfile", file=sys.stderr)
    prof = os.path.join(work, "profile.pstats")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", prof, "-m", "asr_dist.cli.main", *train[3:]],
                   cwd=work, env=env, check=True, capture_output=True)
    return {"tool": "cProfile", **_categorise_cprofile(prof)}


def _categorise_pyspy(raw: str) -> dict:
    """py-spy raw output (one collapsed stack per line, root first, then a count): keep the
    samples inside Trainer.run (loop.py) and attribute each to the category of its leaf-most
    matching frame (native torch time lands on the Python frame that called it)."""
    totals: dict[str, int] = {}
    in_loop = 0
    with open(raw, encoding="utf-8") as fh:
        for line in fh:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            if not any(f.split(" (")[0].endswith("run") and "train/loop.py" in f for f in frames):
                continue
            if any("save_final_model (" in f or "Monitor.__init__ (" in f for f in frames):
                continue  # start-up and the final save: outside the timed loop (audio_seconds_per_second)
            label = ("other, inside the step" if any("train_step (" in f for f in frames)
                     else "loop outside train_step (progress bar, TensorBoard, peak memory)")
            for frame in reversed(frames):
                hit = next((lab for lab, pats in CATEGORIES if any(p in frame for p in pats)), None)
                if hit:
                    label = hit
                    break
            totals[label] = totals.get(label, 0) + int(count)
            in_loop += int(count)
    return {"samples_in_loop": in_loop,
            "shares": {k: v / in_loop for k, v in sorted(totals.items(), key=lambda kv: -kv[1])} if in_loop else {}}


def _categorise_cprofile(path: str) -> dict:
    """Fallback without py-spy: per category, the largest cumulative time of a matching function
    over train_step's (approximate; categories may overlap, native time is not split)."""
    import pstats

    st = pstats.Stats(path)
    cum = {f"{f}:{fn}": v[3] for (f, _l, fn), v in st.stats.items()}
    loop = max((v for k, v in cum.items() if k.endswith("train_step")), default=0.0)
    shares = {}
    for label, pats in CATEGORIES:
        t = max((v for k, v in cum.items() if any(p in k for p in pats)), default=0.0)
        shares[label] = t / loop if loop else 0.0
    return {"train_step_seconds": loop, "shares": shares}


# --- the comparison ------------------------------------------------------------------------------
def explain(ours: dict, hf: dict, ratio: float, preprocess_seconds: float = 0.0) -> list[str]:
    o_step = ours["loop_seconds"] / ours["steps"]
    h_step = hf["loop_seconds"] / hf["steps"]
    o_padded = ours["audio_seconds_per_step"] / (1 - ours["padding_fraction"])
    h_padded = hf["audio_seconds_per_step"] / (1 - hf["padding_fraction"])
    return [
        f"padding: ours {ours['padding_fraction']:.1%} of the batch tensors (duration-budget buckets), HF "
        f"{hf['padding_fraction']:.1%} (group_by_length: mega-batches of 50 x batch sorted, then fixed-count batches); "
        f"padded audio per step: ours {o_padded:.1f} s, HF {h_padded:.1f} s, so at equal compute per padded second "
        f"padding alone accounts for a factor {(1 - ours['padding_fraction']) / (1 - hf['padding_fraction']):.2f}",
        f"real audio per step: ours {ours['audio_seconds_per_step']:.1f} s ({ours['utterances_per_step']:.1f} utterances), "
        f"HF {hf['audio_seconds_per_step']:.1f} s ({hf['utterances_per_step']} utterances)",
        f"step time: ours {o_step * 1000:.0f} ms, HF {h_step * 1000:.0f} ms; per padded second: ours "
        f"{o_step / o_padded * 1000:.1f} ms, HF {h_step / h_padded * 1000:.1f} ms (data loading and per-step overhead "
        f"show up here: ours decodes and normalises audio inside the loop, HF did it once before training, "
        f"{preprocess_seconds:.1f} s of map() on the first run (cached after), not counted in train_runtime)",
        f"throughput ratio ours/HF = {ratio:.2f}x (goal >= {GOAL_RATIO}x)",
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="smoke test: 80 utterances, 6 steps, 1 run each, no default JSON")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each side (interleaved); medians are compared")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--utterances", type=int, default=1000)
    ap.add_argument("--effective-batch-seconds", type=float, default=32.0)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=None, help="default 10%% of steps (asr-dist's default)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS for both (default: all cores)")
    ap.add_argument("--hf-workers", type=int, default=None, help="HF dataloader_num_workers (default: cores/2, max 4)")
    ap.add_argument("--hf-preprocessing-workers", type=int, default=None, help="datasets map(num_proc)")
    ap.add_argument("--profile", action="store_true", help="also profile our loop (py-spy or cProfile)")
    ap.add_argument("--work-dir", default=None, help="keep runs here (default: a temporary folder)")
    ap.add_argument("--out", default=None, help=f"JSON output (default {OUT}; --tiny writes none unless given)")
    ap.add_argument("--hf-worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.hf_worker:
        hf_worker(a.hf_worker)
        return 0
    if a.tiny:
        a.repeats, a.steps, a.utterances = 1, 6, 80
    a.warmup = a.warmup if a.warmup is not None else max(1, a.steps // 10)
    cores = os.cpu_count() or 1
    a.threads = a.threads or cores
    a.hf_workers = a.hf_workers if a.hf_workers is not None else min(4, cores // 2)
    if a.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("--device cuda: no CUDA device visible; nothing run")
            return 3
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work_dir or tmp
        os.makedirs(work, exist_ok=True)
        manifest = make_corpus(os.path.join(work, "corpus"), a.utterances)
        durations = [u["duration"] for u in read_manifest(manifest)]
        mean = sum(durations) / len(durations)
        ours_runs, hf_runs = [], []
        plan = None
        for rep in range(a.repeats):
            order = ("ours", "hf") if rep % 2 == 0 else ("hf", "ours")
            for side in order:
                if side == "ours":
                    ours_runs.append(run_ours(work, manifest, f"ours{rep}", a))
                    plan = plan or ours_runs[-1]
                else:
                    if plan is None:  # hf first: the accumulation and precision come from our plan
                        ours_runs.append(run_ours(work, manifest, f"ours{rep}", a))
                        plan = ours_runs[-1]
                    per_step = max(1, round(a.effective_batch_seconds / mean))
                    acc = max(1, plan["accumulation"])
                    hf_runs.append(run_hf(work, manifest, f"hf{rep}", a, max(1, round(per_step / acc)), acc,
                                          plan["precision"]))
                print(f"  run {rep} {side}: {(ours_runs if side == 'ours' else hf_runs)[-1]['audio_seconds_per_second']:.1f} audio s/s",
                      flush=True)
        ours_runs, hf_runs = ours_runs[:a.repeats], hf_runs[:a.repeats]
        profile = profile_ours(work, manifest, a) if a.profile else None
    o_med = statistics.median(r["audio_seconds_per_second"] for r in ours_runs)
    h_med = statistics.median(r["audio_seconds_per_second"] for r in hf_runs)
    ratio = o_med / h_med
    o_rep = min(ours_runs, key=lambda r: abs(r["audio_seconds_per_second"] - o_med))
    h_rep = min(hf_runs, key=lambda r: abs(r["audio_seconds_per_second"] - h_med))
    result = {"date": time.strftime("%Y-%m-%d"), "device": a.device, "cores": cores, "threads": a.threads,
              "utterances": len(durations), "mean_duration": mean, "steps": a.steps,
              "effective_batch_seconds": a.effective_batch_seconds, "repeats": a.repeats,
              "ours": ours_runs, "hf": hf_runs, "ours_median": o_med, "hf_median": h_med,
              "ratio_ours_over_hf": ratio, "goal_ratio": GOAL_RATIO, "meets_goal": ratio >= GOAL_RATIO,
              "explanation": explain(o_rep, h_rep, ratio, max(r["preprocess_seconds"] for r in hf_runs)),
              "profile": profile}
    print(render(result))
    out = a.out or (None if a.tiny else str(OUT))
    if out:
        for r in ours_runs:
            r.pop("run_dir", None)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def render(r: dict) -> str:
    lines = [f"throughput, {r['device']}, {r['cores']} cores, {r['utterances']} utterances (mean {r['mean_duration']:.2f} s), "
             f"{r['steps']} steps, effective batch {r['effective_batch_seconds']:g} s, {r['repeats']} interleaved runs each",
             f"{'':6}{'audio s/s (median)':>19}  {'runs':<36}{'audio s/step':>12}{'utt/step':>10}{'padding':>9}{'ms/step':>9}"]
    for side in ("ours", "hf"):
        runs = r[side]
        med = r[f"{side}_median"]
        rep = min(runs, key=lambda x: abs(x["audio_seconds_per_second"] - med))
        each = ", ".join(f"{x['audio_seconds_per_second']:.1f}" for x in runs)
        lines.append(f"{side:6}{med:>19.1f}  {each:<36}"
                     f"{rep['audio_seconds_per_step']:>12.1f}{rep['utterances_per_step']:>10.1f}"
                     f"{rep['padding_fraction']:>9.1%}{1000 * rep['loop_seconds'] / rep['steps']:>9.0f}")
    lines.append(f"ratio ours/HF {r['ratio_ours_over_hf']:.2f}x (goal >= {r['goal_ratio']}x: "
                 f"{'met' if r['meets_goal'] else 'NOT met'})")
    lines += [f"  - {e}" for e in r["explanation"]]
    if r.get("profile"):
        p = r["profile"]
        lines.append(f"profile of our loop ({p['tool']}):")
        lines += [f"  {k:<40}{v:>7.1%}" for k, v in p["shares"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
