"""Predicted saved activations vs measured on CPU with the real tiny model (fp32), within 10%."""
from __future__ import annotations

import warnings

import pytest

from asr_dist.planning import activations as act
from asr_dist.planning import calibrate

CONFIGS = [  # (utterances, longest seconds, checkpointing)
    (1, 1.0, False), (4, 2.0, False), (8, 0.5, False), (2, 4.0, False), (3, 3.0, False),
    (1, 1.0, True), (4, 2.0, True), (2, 4.0, True), (6, 1.5, True),
]


@pytest.fixture(scope="module")
def tiny():
    warnings.filterwarnings("ignore")
    model = calibrate.build()
    return model, calibrate.summary_of(model)


@pytest.mark.parametrize("batch,seconds,ckpt", CONFIGS)
def test_prediction_within_10_percent(tiny, batch, seconds, ckpt):
    model, summary = tiny
    measured = calibrate.measure(model, batch, seconds, checkpointing=ckpt)
    predicted = act.saved_activation_bytes(summary, act.load_calibration().fp32, batch_size=batch,
                                           longest_seconds=seconds, checkpointing=ckpt)
    assert abs(predicted / measured - 1) <= 0.10, (predicted, measured)


def test_checkpointing_saves_memory_and_16bit_is_smaller(tiny):
    _, summary = tiny
    calib = act.load_calibration()
    kw = dict(total_seconds=40.0, longest_seconds=10.0)
    off = act.activation_bytes(summary, calib.fp32, checkpointing=False, **kw)
    on = act.activation_bytes(summary, calib.fp32, checkpointing=True, **kw)
    half = act.activation_bytes(summary, calib.half, checkpointing=False, **kw)
    assert on < off and half < off
