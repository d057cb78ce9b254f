"""The ``script_view`` clean-up step: a review followed by its rendering in the other script.

Hinglish is Hindi written in Latin letters; the multilingual encoder saw Hindi mostly in Devanagari. So a
review mostly in Latin-script Hindi gets its Devanagari transliteration appended, and a Devanagari review its
romanisation, joined by `SEPARATOR`. dhvani (its lexicon ships in the wheel) guesses per word which words are
Hindi and keeps the others as they are, but it takes many English words for Hindi ("life" -> "लिफे"), so a review
reads as English, and gets no view, when at least `ENGLISH_SHARE` of its words are English stop words
(scikit-learn's list): transliterated English is noise. Reviews already in both scripts, or in neither, are left
alone. Romanisation is indic-transliteration's ITRANS, lowercased and simplified to casual Hinglish spelling
("बहुत अच्छा है" -> "bahut achcha hai").
"""

from __future__ import annotations

import re
from functools import lru_cache

from .errors import SamikshaError
from .scripts import script_of

SEPARATOR = " | "
# English stop words in a Latin review from which it reads as English: SentiMix dev tweets that are English
# score 0.3-0.75, Hinglish ones mostly below 0.25 ("product accha hai but delivery late thi": 0.14)
ENGLISH_SHARE = 0.3
EXTRA = "script"

_DEVANAGARI = re.compile(r"[\u0900-\u0963\u0971-\u097F]")
_LATIN_WORD = re.compile(r"[a-z]+")
# a consonant (with its nukta) ending a word of two letters or more: Hindi drops its inherent vowel ("kImata")
_FINAL_CONSONANT = re.compile(r"(?<=[\u0900-\u097F])([\u0915-\u0939\u0958-\u095F]\u093C?)(?![\u0900-\u097F])")
_VIRAMA = "\u094D"
_DANDA = re.compile(r"[\u0964\u0965]+")
_ITRANS_MARKS = re.compile(r"(?<=[^\W\d_])[.~^](?=[^\W\d_])|(?<![^\W\d_])\.(?=[^\W\d_])")  # "ba.DhiyA", ".Dh"


@lru_cache(maxsize=1)
def _packages():
    try:
        import dhvani
        import dhvani.cache
        from indic_transliteration import sanscript
    except ImportError:
        raise SamikshaError(f"the script_view text step needs the '{EXTRA}' extra: "
                            f"pip install 'samiksha[{EXTRA}]' (dhvani, indic-transliteration)") from None
    # dhvani reads words it learnt in earlier sessions from ~/.dhwani/cache.json; an empty cache keeps the
    # view the same on every machine (its lexicon alone decides)
    dhvani.cache._CACHE = {}
    return dhvani, sanscript


def require() -> None:
    """One clear line when the packages the step needs are not installed."""
    _packages()


def reads_as_english(text: str) -> bool:
    """Whether at least `ENGLISH_SHARE` of the Latin words of ``text`` are English stop words."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = _LATIN_WORD.findall(text.lower())
    return bool(words) and sum(w in ENGLISH_STOP_WORDS for w in words) >= ENGLISH_SHARE * len(words)


def to_devanagari(text: str) -> str | None:
    """The Devanagari view of a Latin-script review; None for English, or when no word came out in Devanagari."""
    if reads_as_english(text):
        return None
    dhvani, _ = _packages()
    view = dhvani.to_devanagari(text)
    return view if _DEVANAGARI.search(view) else None


def to_roman(text: str) -> str:
    """Casual romanisation of a Devanagari review: no final inherent vowel, no capitals, no ITRANS dots."""
    _, sanscript = _packages()
    text = _FINAL_CONSONANT.sub(r"\1" + _VIRAMA, _DANDA.sub(".", text))
    roman = sanscript.transliterate(text, sanscript.DEVANAGARI, sanscript.ITRANS)
    roman = roman.replace(".N", "n").replace("M", "n")  # chandrabindu and anusvara: "hain", not "haiM"
    return _ITRANS_MARKS.sub("", roman).lower()


def _view(text: str) -> str | None:
    script = script_of(text)
    if script == "latin":
        return to_devanagari(text)
    return to_roman(text) if script == "devanagari" else None


def script_view(text: str) -> str:
    """``text``, then `SEPARATOR` and its other-script view when it has one. (`normalise.Normaliser` returns a
    text that already ends in its own view as it is.)"""
    view = _view(text)
    return f"{text}{SEPARATOR}{view}" if view else text
