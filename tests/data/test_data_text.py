"""TextNormalizer options (independent of RunConfig) and the vocabulary."""
import unicodedata

import pytest

from asr_dist.data.text import UNK, TextNormalizer, build_vocab, out_of_vocab


def test_defaults_unchanged():
    n = TextNormalizer()
    assert n("  Hello,   World! «Ça» don't — stop…") == "hello world ça don't stop"
    assert n("?!... ,;:") == ""


def test_lowercase_off_and_custom_strip_and_keep():
    assert TextNormalizer(lowercase=False)("Hello, World") == "Hello World"
    assert TextNormalizer(strip_chars="-")("a-b, c") == "a b, c"
    assert TextNormalizer(keep_chars="-")("semi-final, yes!") == "semi-final yes"
    assert TextNormalizer(strip_chars="")("a.b") == "a.b"


def test_allowed_chars_whitelist():
    n = TextNormalizer(allowed_chars="abcdefghijklmnopqrstuvwxyz'")
    assert n("Naïve café: 42 it's") == "nave caf it's"


def test_unicode_normal_form():
    decomposed = unicodedata.normalize("NFD", "café")
    assert TextNormalizer()(decomposed) == "café" and len(TextNormalizer()(decomposed)) == 4
    assert len(TextNormalizer(unicode_form=None)(decomposed)) == 5
    with pytest.raises(ValueError):
        TextNormalizer(unicode_form="XYZ")


def test_vocab_layout_and_oov():
    v = build_vocab(["ab c", "ca"])
    assert list(v) == ["[PAD]", "|", "a", "b", "c", UNK]
    assert out_of_vocab("abz ñ", v) == {"z", "ñ"}
