"""Model and processor: built from a preset config (no download) or read from a local folder."""
from __future__ import annotations

import json
import os

from ..errors import UserError
from ..models.presets import PRESETS
from ..data.text import PAD, UNK, WORD_DELIMITER

SAMPLE_RATE = 16000


def folder_has_processor(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "vocab.json")) and (
        os.path.isfile(os.path.join(folder, "preprocessor_config.json"))
        or os.path.isfile(os.path.join(folder, "processor_config.json")))


def build_processor(vocab: dict[str, int], folder: str, return_attention_mask: bool = True):
    """A real Wav2Vec2Processor (feature extractor + CTC tokenizer) saved into `folder`."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

    os.makedirs(folder, exist_ok=True)
    vocab_path = os.path.join(folder, "vocab.json")
    with open(vocab_path, "w", encoding="utf-8") as fh:
        json.dump(vocab, fh, ensure_ascii=False, indent=1)
    tokenizer = Wav2Vec2CTCTokenizer(vocab_path, unk_token=UNK, pad_token=PAD,
                                     word_delimiter_token=WORD_DELIMITER)
    extractor = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                         do_normalize=True, return_attention_mask=return_attention_mask)
    processor = Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return processor


def load_processor(folder: str):
    from transformers import Wav2Vec2Processor

    if not folder_has_processor(folder):
        raise UserError(f"{folder}: no processor here (need vocab.json and preprocessor_config.json)")
    return Wav2Vec2Processor.from_pretrained(folder)


def model_config(model: str, processor):
    """The Wav2Vec2Config for a preset, or the folder's config with our vocabulary size."""
    from transformers import Wav2Vec2Config

    tok = processor.tokenizer
    ids = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id)
    if model in PRESETS:
        return Wav2Vec2Config(**PRESETS[model].config_kwargs, **ids)
    if not os.path.isfile(os.path.join(model, "config.json")):
        raise UserError(f"--model: '{model}' is not a preset ({', '.join(PRESETS)}) nor a folder with config.json")
    return Wav2Vec2Config.from_pretrained(model, **ids)


def build_model(model: str, processor, *, gradient_checkpointing: bool = False,
                freeze_feature_encoder: bool = True):
    """Wav2Vec2ForCTC: from the preset's config (random init) or the local folder's weights (a new
    CTC head when its vocabulary differs, as for a pretrained XLS-R checkpoint)."""
    from transformers import Wav2Vec2ForCTC
    from transformers.utils import logging as hf_logging

    config = model_config(model, processor)
    if model in PRESETS:
        net = Wav2Vec2ForCTC(config)
    else:
        verbosity = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # "newly initialized lm_head" is expected, not news
        try:
            net = Wav2Vec2ForCTC.from_pretrained(model, config=config, ignore_mismatched_sizes=True)
        finally:
            hf_logging.set_verbosity(verbosity)
    if freeze_feature_encoder:
        net.freeze_feature_encoder()
    if gradient_checkpointing:
        net.gradient_checkpointing_enable()
    return net
