"""examples/quickstart.ipynb, executed end to end in a real Jupyter kernel (nbclient + ipykernel) on
a tiny budget: 2 processes forked from the kernel by notebook_launch, progress in the cell."""
import json
import os
import re
import sys
from pathlib import Path

import pytest

from helpers import read_json

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
TINY = {"ASR_DIST_QUICKSTART_STEPS": "10", "ASR_DIST_QUICKSTART_UTTERANCES": "40",
        "ASR_DIST_QUICKSTART_DEV_UTTERANCES": "8", "ASR_DIST_QUICKSTART_PROCESSES": "2"}


def _text(cell, name=None) -> str:
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and (name is None or o.name == name))


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) == 3
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    work = tmp_path_factory.mktemp("quickstart")
    # a kernelspec for this interpreter (the venv's "python3" spec runs whatever `python` is on PATH)
    spec = work / "jupyter" / "kernels" / "asr-dist-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "asr-dist test", "language": "python"}))
    saved = {k: os.environ.get(k) for k in [*TINY, "JUPYTER_PATH"]}
    os.environ.update(TINY, JUPYTER_PATH=str(work / "jupyter"))  # the kernel inherits them
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nbclient.NotebookClient(nb, timeout=300, kernel_name="asr-dist-test",
                                resources={"metadata": {"path": str(work)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return work, nb


def test_plan_cell_shows_the_candidate_table(executed):
    _, nb = executed
    (result,) = [o for o in nb.cells[2].outputs if o.output_type == "execute_result"]
    assert "->ddp" in result["data"]["text/plain"] and "chosen: ddp" in result["data"]["text/plain"]
    page = result["data"]["text/html"]
    assert 'class="asr-dist-chosen" data-strategy="ddp"' in page
    for name in ("single", "zero2", "zero3", "zero2-offload", "zero3-offload"):
        assert f'data-strategy="{name}"' in page


def test_training_cell_streams_progress_and_reports_wer_cer(executed):
    work, nb = executed
    cell = nb.cells[3]
    assert not [o for o in cell.outputs if o.output_type == "error"]
    err = _text(cell, "stderr")
    assert "notebook_launcher: 2 processes (CPU, gloo)" in err
    assert "train: 100%" in err and "10/10" in err  # rank 0's progress bar, from a forked process
    out = _text(cell, "stdout").strip().splitlines()
    m = re.fullmatch(r"dev WER (\d+\.\d{4})  CER (\d+\.\d{4})  \((\d+) utterances\)", out[-1])
    assert m, out
    wer, cer, count = float(m.group(1)), float(m.group(2)), int(m.group(3))
    assert count == 8 and 0.0 <= cer <= wer + 1e-9 and wer <= 1.5
    run_dir = re.match(r"run folder: (\S+) \(10 steps, ddp x2\)", out[-2])
    assert run_dir, out
    summary = read_json(work / run_dir.group(1) / "run_summary.json")
    assert summary["world_size"] == 2 and summary["steps"] == 10
    # the final evaluation in training and asr_dist.evaluate agree on the final model
    assert summary["eval"]["wer"] == pytest.approx(wer, abs=1e-4)
    assert summary["eval"]["cer"] == pytest.approx(cer, abs=1e-4)
