"""Shared fixtures: offline environment, a small generated demo corpus (helpers.py runs the CLI)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _offline_env(tmp_path_factory):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    os.environ.setdefault("ASR_DIST_CACHE_DIR", str(tmp_path_factory.mktemp("asr_dist_cache")))
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", os.path.join(os.path.dirname(__file__), "..", ".torch_extensions"))


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> str:
    """60 train + 12 dev generated utterances (real WAV files)."""
    from asr_dist.data.demo import DemoSpec, write_demo_corpus

    folder = tmp_path_factory.mktemp("corpus")
    write_demo_corpus(str(folder), DemoSpec(num_train=60, num_dev=12, seed=1))
    return str(folder)
