"""Which writing system a review uses (Latin, Devanagari, both, other) and Unicode clean-up for Indic text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SCRIPTS = ("latin", "devanagari", "mixed", "other")

# Letters and vowel signs only: the danda (।, ॥), Devanagari digits and the abbreviation sign are left out,
# so "ok।" or "5 ★" count by their letters.
_DEVANAGARI = re.compile(r"[\u0900-\u0963\u0971-\u097F\uA8E0-\uA8FF]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u024F\u1E00-\u1EFF]")
_JOINERS = re.compile(r"[\u200C\u200D]")


def script_of(text: str) -> str:
    """'latin', 'devanagari', 'mixed' (both) or 'other' (neither: another script, or no letters at all)."""
    latin, devanagari = bool(_LATIN.search(text)), bool(_DEVANAGARI.search(text))
    if latin and devanagari:
        return "mixed"
    return "latin" if latin else "devanagari" if devanagari else "other"


def script_mix(texts: Iterable[str]) -> dict[str, int]:
    """How many texts are in each script, with every script named (zero counts included)."""
    counts = dict.fromkeys(SCRIPTS, 0)
    for text in texts:
        counts[script_of(text)] += 1
    return counts


def devanagari_share(texts: Iterable[str]) -> float:
    """The fraction of texts with any Devanagari letter (Devanagari-only and mixed texts)."""
    mix = script_mix(texts)
    total = sum(mix.values())
    return (mix["devanagari"] + mix["mixed"]) / total if total else 0.0


def normalise_indic(text: str) -> str:
    """NFC, then drop zero-width (non-)joiners.

    NFC gives every nukta letter one spelling: क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़ (U+0958-095F) become letter + nukta (U+093C),
    and न+़, र+़, ळ+़ become ऩ ऱ ऴ. The joiners only steer how a conjunct is drawn (क्‍ष vs क्ष); the XLM-R
    tokenizer turns each into a space and so splits the word in two.
    """
    return _JOINERS.sub("", unicodedata.normalize("NFC", text))
