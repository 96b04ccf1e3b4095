from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest

from asr_dist.errors import UserError
from asr_dist.planning.model_inspect import inspect_model

from test_planner_examples import XLSR


@pytest.mark.parametrize("name", list(XLSR))
def test_xlsr_numbers_match_planner_fixture(name):
    s = inspect_model(name)
    for key, value in XLSR[name].items():
        assert getattr(s, key) == value, key
    assert s.frames_per_second == 50.0 and s.feature_encoder_frozen


def test_tiny_and_unfrozen():
    s = inspect_model("tiny")
    assert 50_000 < s.params_total < 200_000 and s.frames_per_second == 50.0
    assert inspect_model("tiny", freeze_feature_encoder=False).params_trainable == s.params_total


def test_errors(tmp_path):
    with pytest.raises(UserError, match="not a preset"):
        inspect_model("nope")
    with pytest.raises(UserError, match="config.json"):
        inspect_model(str(tmp_path))


def test_local_folder(tmp_path):
    from transformers import Wav2Vec2Config

    from asr_dist.models.presets import PRESETS

    Wav2Vec2Config(**PRESETS["tiny"].config_kwargs, vocab_size=40).save_pretrained(tmp_path)
    s = inspect_model(str(tmp_path), vocab_size=40)
    assert s.vocab_size == 40 and s.hidden_size == 64
