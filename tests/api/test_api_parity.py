"""The Python API (`import asr_dist`) against the CLI: same options, same results, same errors."""
import json
import os
from dataclasses import fields

import pytest

import asr_dist
from asr_dist.config import RunConfig
from helpers import run_cli


def _cli_error(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0][len("error: "):]


def test_import_is_light_and_exports_the_api():
    import subprocess
    import sys

    code = ("import sys, asr_dist; assert 'torch' not in sys.modules, 'torch imported'; "
            "print(sorted(asr_dist.__all__))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for name in ("profile", "plan", "launch", "notebook_launch", "evaluate", "UserError"):
        assert name in proc.stdout
        assert callable(getattr(asr_dist, name))


@pytest.mark.parametrize("extra", [["--model", "xls-r-1b", "--simulate", "8xV100-16GB"],
                                   ["--strategy", "ddp", "--num-processes", "2", "--effective-batch-seconds", "16"]],
                         ids=["xls-r-1b-on-8xV100", "tiny-ddp-here"])
def test_plan_to_dict_equals_plan_json(small_corpus, extra):
    train = os.path.join(small_corpus, "train.jsonl")
    proc = run_cli("plan", *extra, "--train-manifest", train, "--json")
    assert proc.returncode == 0, proc.stderr
    options = {extra[i].lstrip("-").replace("-", "_"): extra[i + 1] for i in range(0, len(extra), 2)}
    plan = asr_dist.plan(train_manifest=train, say=lambda *_: None, **options)
    # `plan --json` is json.dumps(plan.to_dict()): equal once JSON's lists stand for to_dict's tuples
    assert json.loads(json.dumps(plan.to_dict())) == json.loads(proc.stdout)
    assert plan.chosen.strategy == plan.to_dict()["chosen"]["strategy"]
    assert [c.strategy for c in plan.candidates] == [c["strategy"] for c in json.loads(proc.stdout)["candidates"]]


def test_plan_repr_is_the_cli_table_and_html_has_every_row(small_corpus):
    train = os.path.join(small_corpus, "train.jsonl")
    proc = run_cli("plan", "--model", "xls-r-300m", "--simulate", "8xA100-80GB", "--train-manifest", train)
    assert proc.returncode == 0, proc.stderr
    plan = asr_dist.plan(model="xls-r-300m", simulate="8xA100-80GB", train_manifest=train)
    assert repr(plan) == proc.stdout.rstrip("\n")
    page = plan._repr_html_()
    assert page.count('class="asr-dist-chosen"') == 1 and 'data-strategy="ddp"' in page
    text_rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith(("->", "  ")) and "candidate" not in ln]
    import re

    for row in re.findall(r"<tr class=\"asr-dist-\w+\" (.*?)</tr>", page):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
        name = cells[1]
        text = next(r for r in text_rows if r[0].lstrip("->") == name)
        # strategy, the six GiB columns, fits, ckpt, micro s, accum: the same strings as the table
        assert [name, *cells[2:12]] == [text[0].lstrip("->"), *text[1:11]], name
    assert "chosen: ddp" in page and "batch:" in page


def test_user_error_has_the_cli_message(small_corpus, tmp_path):
    train = os.path.join(small_corpus, "train.jsonl")
    with pytest.raises(asr_dist.UserError) as err:
        asr_dist.plan(model="xls", train_manifest=train)
    assert _cli_error(run_cli("plan", "--model", "xls", "--train-manifest", train)) == str(err.value)
    assert "--model" in str(err.value) and "'xls'" in str(err.value)

    with pytest.raises(asr_dist.UserError) as err:
        asr_dist.plan(max_steps=0, train_manifest=train)
    assert _cli_error(run_cli("plan", "--max-steps", "0", "--train-manifest", train)) == str(err.value)

    missing = str(tmp_path / "nope.jsonl")
    with pytest.raises(asr_dist.UserError) as err:
        asr_dist.launch(dry_run=True, train_manifest=missing)
    assert _cli_error(run_cli("launch", "--dry-run", "--train-manifest", missing, cwd=tmp_path)) == str(err.value)

    with pytest.raises(asr_dist.UserError, match="did you mean 'learning_rate'"):
        asr_dist.plan(learning_rat=0.1, train_manifest=train)
    with pytest.raises(asr_dist.UserError) as err:
        asr_dist.profile(simulate="8xB300")
    assert _cli_error(run_cli("profile", "--simulate", "8xB300")) == str(err.value)


def test_profile_equals_profile_json():
    proc = run_cli("profile", "--simulate", "2x8xA100-80GB", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.dumps(asr_dist.profile(simulate="2x8xA100-80GB").to_dict())) == json.loads(proc.stdout)


def test_every_run_option_is_a_keyword_with_the_cli_default():
    from asr_dist.api import config_from
    from asr_dist.cli.main import launch
    from asr_dist.cli.options import build_config

    flags = {p.name for p in launch.params}
    for f in fields(RunConfig):
        assert f.name in flags, f.name  # --flag-name <-> flag_name=
    assert config_from() == build_config(None, {}) == RunConfig()
    assert config_from(max_steps=7, gradient_checkpointing="on") == build_config(
        None, {"max_steps": 7, "gradient_checkpointing": "on"})


def test_launch_dry_run_equals_the_cli(small_corpus, tmp_path, monkeypatch):
    train = os.path.join(small_corpus, "train.jsonl")
    out = tmp_path / "out"
    args = ["--strategy", "zero2", "--num-processes", "2", "--train-manifest", train, "--output-dir", str(out)]
    proc = run_cli("launch", "--dry-run", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = {p: p.read_text() for p in (out / "plan.json", out / "run_config.yaml")}
    monkeypatch.chdir(tmp_path)
    info = asr_dist.launch(dry_run=True, strategy="zero2", num_processes=2, train_manifest=train, output_dir=str(out))
    assert proc.stdout.strip().splitlines()[-1] == info["command"]
    assert f"accelerate config:  {info['accelerate_config']}" in proc.stdout
    for path, text in written.items():
        assert path.read_text() == text, path.name
    assert info["strategy"] == "zero2" and not list(out.glob("checkpoint-*"))


def test_a_datasets_folder_saved_with_save_to_disk_is_a_manifest(small_corpus, tmp_path):
    """docs/INTEGRATION_GUIDE.md: an existing `datasets.Dataset` -> save_to_disk -> train_manifest."""
    datasets = pytest.importorskip("datasets")
    train = os.path.join(small_corpus, "train.jsonl")
    with open(train, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    ds = datasets.Dataset.from_dict({"audio": [os.path.join(small_corpus, r["audio_filepath"]) for r in rows],
                                     "transcription": [r["text"] for r in rows]})
    ds.save_to_disk(str(tmp_path / "train_ds"))
    from_ds = asr_dist.plan(train_manifest=str(tmp_path / "train_ds"), say=lambda *_: None).to_dict()
    from_jsonl = asr_dist.plan(train_manifest=train, say=lambda *_: None).to_dict()
    assert from_ds["data"]["count"] == from_jsonl["data"]["count"] == len(rows)
    assert from_ds["data"]["hours"] == pytest.approx(from_jsonl["data"]["hours"], rel=1e-3)
    assert from_ds["chosen"]["strategy"] == from_jsonl["chosen"]["strategy"]


def test_data_report_and_demo_data_equal_the_cli(small_corpus, tmp_path):
    train = os.path.join(small_corpus, "train.jsonl")
    proc = run_cli("data-report", train, "--json", "--max-duration", "5")
    assert proc.returncode == 0, proc.stderr
    report = asr_dist.data_report(train, max_duration=5)
    assert json.loads(json.dumps(report.to_dict())) == json.loads(proc.stdout)
    assert run_cli("demo-data", tmp_path / "cli", "--num-train", 3, "--num-dev", 2).returncode == 0
    paths = asr_dist.demo_data(str(tmp_path / "api"), num_train=3, num_dev=2)
    for split in ("train", "dev"):
        assert open(paths[split]).read() == (tmp_path / "cli" / f"{split}.jsonl").read_text()
    with pytest.raises(asr_dist.UserError, match="--num-train"):
        asr_dist.demo_data(str(tmp_path / "bad"), num_train=0)
