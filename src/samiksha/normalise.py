"""The text clean-up shared by training and prediction: one list of named steps, saved with the model.

- ``unicode``: NFC and no zero-width joiners (`scripts.normalise_indic`), one spelling for each Devanagari letter.
- ``placeholders``: user mentions become ``@user`` and links ``http``, as in the tweets models are trained on.
- ``elongation``: a letter repeated three times or more is cut to two ("sooooo" -> "soo"), and runs of ! ? . too.
- ``emoji``: emoji become their English names ("😍" -> " smiling face with heart-eyes "), which MiniLM's vocabulary
  reads; without this step every emoji is the same unknown token to it.
- ``script_view``: the review, " | ", and the review in the other script (`scriptview`): Devanagari for Hinglish,
  a romanisation for Devanagari. It needs the ``script`` extra (dhvani, indic-transliteration).

Cleaning a cleaned text changes nothing: every other step is idempotent, and a text that already ends in its own
script view is recognised. The default is ``unicode`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .scripts import normalise_indic
from .scriptview import SEPARATOR, require, script_view

_URL = re.compile(r"https?\s*:?\s*//\s*\S+(?:\s*[./]\s*[^\s./]+)*|www\.\S+", re.IGNORECASE)
_USER = re.compile(r"(?<!\w)@\s?\w+")
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")
_PUNCTUATION_RUN = re.compile(r"([!?.])\1{2,}")
_SPACES = re.compile(r"\s+")


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def emoji_to_words(text: str) -> str:
    import emoji

    if not emoji.emoji_count(text):
        return text
    return _collapse(emoji.demojize(text, delimiters=(" ", " ")).replace("_", " "))


def placeholders(text: str) -> str:
    replaced = _USER.sub(" @user ", _URL.sub(" http ", text))
    return _collapse(replaced) if replaced != text else text


def squeeze_elongation(text: str) -> str:
    return _PUNCTUATION_RUN.sub(r"\1\1", _ELONGATED.sub(r"\1\1", text))


STEPS = {"unicode": normalise_indic, "placeholders": placeholders, "elongation": squeeze_elongation,
         "emoji": emoji_to_words, "script_view": script_view}
# the other steps are there to choose (`--clean`), not on by default (why: docs/decisions.md)
DEFAULT_STEPS = ("unicode",)


@dataclass(frozen=True)
class Normaliser:
    """Applies ``steps`` in the fixed order of STEPS."""

    steps: tuple[str, ...]

    def __post_init__(self) -> None:
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown:
            from .errors import SamikshaError

            raise SamikshaError(f"unknown text clean-up step(s) {unknown} (choose from {', '.join(STEPS)})")
        if "script_view" in self.steps:
            require()  # one clear line, at configuration or loading, when its packages are missing

    def __call__(self, text: str) -> str:
        if "script_view" in self.steps and SEPARATOR in text:
            # a text this clean-up made already ends in its own view: clean it as it is (the other steps would
            # change the view itself, "@उसेर" -> "@user")
            if any(self._apply(text[:m.start()]) == text for m in re.finditer(re.escape(SEPARATOR), text)):
                return text
        return self._apply(text)

    def _apply(self, text: str) -> str:
        for name, step in STEPS.items():
            if name in self.steps:
                text = step(text)
        return text


def normaliser(steps: Sequence[str] | None) -> Normaliser:
    return Normaliser(tuple(steps or ()))


def saved_steps(config: dict) -> list[str]:
    """The clean-up a saved model was trained with (folders from before text_steps: unicode, if normalised)."""
    if config.get("text_steps") is not None:
        return list(config["text_steps"])
    return ["unicode"] if config.get("normalise") else []
