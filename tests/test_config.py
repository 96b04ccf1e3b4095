import pytest

from asr_dist.config import RunConfig, from_dict, load_yaml
from asr_dist.errors import UserError


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig(model="xls-r-300m", max_steps=7, learning_rate=1e-4, strategy="zero2")
    path = tmp_path / "run.yaml"
    path.write_text(cfg.to_yaml())
    assert load_yaml(str(path)) == cfg


def test_unknown_key_suggests_closest(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("max_step: 10\n")
    with pytest.raises(UserError, match="unknown key 'max_step'.*did you mean 'max_steps'"):
        load_yaml(str(path))


def test_all_problems_reported_at_once():
    with pytest.raises(UserError) as err:
        from_dict({"max_steps": 0, "effective_batch_seconds": -1, "strategy": "zero9"})
    text = str(err.value)
    assert "max_steps" in text and "effective_batch_seconds" in text and "zero9" in text


def test_wrong_type_named():
    with pytest.raises(UserError, match="max_steps: expected int, got 'many'"):
        from_dict({"max_steps": "many"})
