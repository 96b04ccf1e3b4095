"""benchmarks/padding.py --tiny runs, and our batches pad far less than random ones."""
import importlib.util
import os

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "padding.py")


def _load():
    spec = importlib.util.spec_from_file_location("padding_benchmark", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_mode_smoke(tmp_path, capsys):
    bench = _load()
    out = tmp_path / "padding.json"
    assert bench.main(["--tiny", "--out", str(out)]) == 0
    assert "ours" in capsys.readouterr().out
    import json

    row = json.loads(out.read_text())["rows"][0]
    assert row["ours"]["padding"] <= 0.05
    assert row["random"]["padding"] > 0.25
    assert row["ours"]["max_padded_seconds"] <= row["budget_seconds"]
    assert row["hf_group_by_length"]["max_padded_seconds"] > row["budget_seconds"]


def test_ours_within_budget_on_skewed_set():
    bench = _load()
    result = bench.run(3000, [16.0, 64.0], epochs=1)
    assert result["ours_within_goal"]
    assert all(r["ours"]["padding"] < r["hf_group_by_length"]["padding"] for r in result["rows"])
