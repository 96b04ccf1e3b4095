"""Transcript normalisation and the CTC character vocabulary (pure)."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

WORD_DELIMITER = "|"
UNK = "[UNK]"
PAD = "[PAD]"


@dataclass(frozen=True)
class TextNormalizer:
    lowercase: bool = True
    strip_chars: str = string.punctuation.replace("'", "") + "«»“”„¡¿…–—"

    def __call__(self, text: str) -> str:
        if self.lowercase:
            text = text.lower()
        if self.strip_chars:
            text = text.translate({ord(c): " " for c in self.strip_chars})
        return re.sub(r"\s+", " ", text).strip()


def build_vocab(texts) -> dict[str, int]:
    """Characters of the (normalised) transcripts; space becomes the word delimiter '|'.

    Index order: [PAD] first (it is also the CTC blank, as in the HF wav2vec2 recipes), then the
    sorted characters, then [UNK].
    """
    chars = sorted({c for t in texts for c in t} - {" "})
    vocab = {PAD: 0, WORD_DELIMITER: 1}
    for c in chars:
        vocab[c] = len(vocab)
    vocab[UNK] = len(vocab)
    return vocab


def out_of_vocab(text: str, vocab: dict[str, int]) -> set[str]:
    return {c for c in text if c != " " and c not in vocab}
