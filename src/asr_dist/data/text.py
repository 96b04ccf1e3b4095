"""Transcript normalisation and the CTC character vocabulary (pure)."""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field

WORD_DELIMITER = "|"
UNK = "[UNK]"
PAD = "[PAD]"
DEFAULT_STRIP = string.punctuation.replace("'", "") + "«»“”„¡¿…–—"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class TextNormalizer:
    """Independent of RunConfig; the defaults are what every run used so far.

    In order: Unicode normalisation (`unicode_form`, None to skip), lowercasing, then every
    character of `strip_chars` that is not in `keep_chars` becomes a space, then (when
    `allowed_chars` is set) every other character not in it and not whitespace is removed, then
    runs of whitespace collapse to one space. A transcript that ends up empty (only punctuation)
    is dropped by the filter as `empty_text`."""
    lowercase: bool = True
    strip_chars: str = DEFAULT_STRIP
    keep_chars: str = ""
    allowed_chars: str | None = None
    unicode_form: str | None = "NFC"
    _table: dict = field(init=False, repr=False, compare=False, hash=False, default=None)
    _allowed: frozenset | None = field(init=False, repr=False, compare=False, hash=False, default=None)

    def __post_init__(self):
        strip = {ord(c): " " for c in self.strip_chars if c not in self.keep_chars}
        object.__setattr__(self, "_table", strip)
        object.__setattr__(self, "_allowed", None if self.allowed_chars is None else frozenset(self.allowed_chars))
        if self.unicode_form not in (None, "NFC", "NFD", "NFKC", "NFKD"):
            raise ValueError(f"unicode_form: {self.unicode_form!r} is not NFC, NFD, NFKC, NFKD or None")

    def __call__(self, text: str) -> str:
        if self.unicode_form:
            text = unicodedata.normalize(self.unicode_form, text)
        if self.lowercase:
            text = text.lower()
        if self._table:
            text = text.translate(self._table)
        if self._allowed is not None:
            allowed = self._allowed
            text = "".join(c for c in text if c in allowed or c.isspace())
        return _SPACES.sub(" ", text).strip()


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
