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


@pytest.mark.parametrize("name", ["tiny", "xls-r-300m", "xls-r-1b", "xls-r-2b"])
@pytest.mark.parametrize("vocab", [32, 57])
def test_arithmetic_counts_equal_meta_device_counts(name, vocab):
    from asr_dist.planning.model_inspect import inspect_model_meta

    assert inspect_model(name, vocab) == inspect_model_meta(name, vocab)


def test_arithmetic_matches_meta_for_a_folder_with_default_keys(tmp_path):
    """A base-style config (group norm, no conv bias, SpecAugment on) saved by transformers."""
    import json

    from transformers import Wav2Vec2Config

    from asr_dist.planning.model_inspect import inspect_model_meta

    Wav2Vec2Config(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=200,
                   conv_dim=(16, 24, 24), conv_kernel=(10, 3, 2), conv_stride=(5, 2, 2),
                   num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg.get("feat_extract_norm", "group") == "group"
    for frozen in (True, False):
        assert inspect_model(str(tmp_path), 40, frozen) == inspect_model_meta(str(tmp_path), 40, frozen)
