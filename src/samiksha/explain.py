"""Which words drove a label: per-word contributions toward each text's predicted label.

Two methods; occlusion is the default as it measured both more faithful and faster (benchmarks/insights.py,
README: deleting its top-3 words lowered the label's probability 4.8x / 10.7x as much as deleting 3 random words on
the demo / SentiMix texts, against 3.0x / 7.9x for Integrated Gradients, at 12.9 / 4.7 texts/s against 3.4 / 3.2
in PyTorch):

- ``occlusion`` (the default): delete one word at a time and see how much the predicted label's probability falls.
  It works on every backend (PyTorch, ONNX, TF-IDF, stacks), explains the whole model as it labels (the TF-IDF
  part of a stack included), and all of a batch's deletions run as one batched prediction.
- ``gradients``: Integrated Gradients (captum) through the transformer's word embeddings, summed over each word's
  sub-word pieces. PyTorch only, and it explains the transformer alone (a stack's TF-IDF part is not seen).

Words are runs of letters and digits (Devanagari vowel signs and viramas included, so Hindi words stay whole) and
runs of other visible characters (punctuation, emoji); each keeps its place in the original text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import SamikshaError

METHODS = ("occlusion", "gradients")
DEFAULT_METHOD = "occlusion"
# Longer texts are occluded in runs of neighbouring words, so a text costs at most this many model calls. Measured
# (benchmarks/insights.py, int8 SentiMix model, tweets of 26 words on average): 48 -> 10.3 texts/s, top-3 deletion
# 10.4x random; 24 -> 17.0 texts/s, 8.9x; 12 -> 26.6 texts/s, 7.8x. Reviews of up to 24 words keep one weight each.
MAX_OCCLUSIONS = 24
IG_STEPS = 16

_WORD = re.compile(r"[\w\u0900-\u0963\u0966-\u097F\u200c\u200d]+(?:['’][\w]+)*|[^\w\s\u0900-\u0963\u0966-\u097F]+")


@dataclass
class Explanation:
    """One text's label and each word's contribution toward it (positive: the word supports the label)."""

    text: str
    label: str
    score: float  # the label's probability for the whole text
    words: list[tuple[str, float]]  # in the text's word order

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "score": round(self.score, 4),
                "words": [[word, round(weight, 4)] for word, weight in self.words]}

    def top(self, k: int = 3) -> list[str]:
        """The k words that most support the label, strongest first."""
        ranked = sorted(self.words, key=lambda pair: -pair[1])
        return [word for word, weight in ranked[:k] if weight > 0]


def word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of ``text``, in order."""
    return [match.span() for match in _WORD.finditer(text)]


def without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with the given word spans deleted (each replaced by a space, so neighbours never merge)."""
    parts, last = [], 0
    for start, end in sorted(spans):
        parts.append(text[last:start])
        parts.append(" ")
        last = end
    parts.append(text[last:])
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def _groups(n_words: int, limit: int) -> list[list[int]]:
    """Word indices occluded together: one word each, or runs of neighbours when there are more than ``limit``."""
    size = -(-n_words // limit) if n_words > limit else 1
    return [list(range(i, min(i + size, n_words))) for i in range(0, n_words, size)]


def occlusion(classifier, texts: Sequence[str], batch_size: int = 64,
              max_occlusions: int = MAX_OCCLUSIONS) -> list[Explanation]:
    """Explain by deleting each word: its weight is how much the label's probability falls without it."""
    spans = [word_spans(t) for t in texts]
    groups = [_groups(len(s), max_occlusions) for s in spans]
    variants: list[str] = list(texts)
    owners: list[tuple[int, list[int]]] = []
    for i, (text, text_spans) in enumerate(zip(texts, spans)):
        for group in groups[i]:
            variants.append(without(text, [text_spans[j] for j in group]))
            owners.append((i, group))
    proba = classifier.predict_proba(variants, batch_size)
    full, occluded = proba[:len(texts)], proba[len(texts):]
    best = full.argmax(axis=1)
    weights = [np.zeros(len(s)) for s in spans]
    for (i, group), row in zip(owners, occluded):
        weights[i][group] = (full[i, best[i]] - row[best[i]]) / len(group)
    return [Explanation(text, classifier.labels[best[i]], float(full[i, best[i]]),
                        [(text[a:b], float(w)) for (a, b), w in zip(spans[i], weights[i])])
            for i, text in enumerate(texts)]


def _torch_transformer(classifier):
    """The PyTorch transformer inside a Classifier (alone, or the transformer part of a stack)."""
    backend = getattr(classifier.backend, "transformer", classifier.backend)
    if getattr(backend, "name", "") != "torch" or not hasattr(backend, "model"):
        raise SamikshaError("--method gradients needs a transformer run by PyTorch (load with --backend torch); "
                            "occlusion works on every backend")
    return backend


def gradients(classifier, texts: Sequence[str], batch_size: int = 16, steps: int = IG_STEPS) -> list[Explanation]:
    """Explain by Integrated Gradients on the transformer's word embeddings (from all-padding to the text)."""
    try:
        import torch
        from captum.attr import LayerIntegratedGradients
    except ImportError:
        raise SamikshaError("--method gradients needs captum: pip install 'samiksha[explain]'") from None
    backend = _torch_transformer(classifier)
    model, tokenizer = backend.model, backend.tokenizer
    prefix_words = backend.prefix.split()

    def probability(input_ids, attention_mask):
        return torch.softmax(model(input_ids=input_ids, attention_mask=attention_mask).logits.float(), dim=-1)

    explainer = LayerIntegratedGradients(probability, model.get_input_embeddings())
    out: list[Explanation] = []
    for start in range(0, len(texts), batch_size):
        chunk = list(texts[start:start + batch_size])
        spans = [word_spans(t) for t in chunk]
        words = [prefix_words + [classifier.clean(t[a:b]) or t[a:b] for a, b in s] for t, s in zip(chunk, spans)]
        batch = tokenizer([w if w else [" "] for w in words], is_split_into_words=True, truncation=True,
                          max_length=classifier.max_length, padding=True, return_tensors="pt")
        ids, mask = batch["input_ids"].to(backend.device), batch["attention_mask"].to(backend.device)
        special = torch.tensor([tokenizer.get_special_tokens_mask(row.tolist(), already_has_special_tokens=True)
                                for row in batch["input_ids"]], dtype=torch.bool, device=ids.device)
        baseline = torch.where(special | (mask == 0), ids, torch.full_like(ids, tokenizer.pad_token_id))
        full = classifier.predict_proba(chunk)  # the label to explain is the whole model's (a stack's, say)
        best = torch.as_tensor(full.argmax(axis=1), device=ids.device)
        attributions = explainer.attribute(ids, baselines=baseline, additional_forward_args=(mask,), target=best,
                                           n_steps=steps, internal_batch_size=max(len(chunk) * steps, 1))
        per_token = attributions.sum(dim=-1).detach().cpu().numpy()
        for row, text in enumerate(chunk):
            weight = np.zeros(len(spans[row]))
            for position, word_id in enumerate(batch.word_ids(row)):
                if word_id is not None and word_id >= len(prefix_words):
                    weight[word_id - len(prefix_words)] += per_token[row, position]
            label = int(best[row])
            out.append(Explanation(text, classifier.labels[label], float(full[row, label]),
                                   [(text[a:b], float(w)) for (a, b), w in zip(spans[row], weight)]))
    return out


def explain(classifier, texts: Sequence[str], method: str = DEFAULT_METHOD, batch_size: int = 64,
            max_occlusions: int = MAX_OCCLUSIONS) -> list[Explanation]:
    """Per-word contributions toward each text's predicted label (see the module docstring for the methods)."""
    if method not in METHODS:
        raise SamikshaError(f"unknown explanation method '{method}' (choose from {', '.join(METHODS)})")
    if max_occlusions < 1:
        raise SamikshaError(f"max_occlusions must be at least 1 (got {max_occlusions})")
    texts = [str(t) for t in texts]
    if method == "gradients":
        return gradients(classifier, texts)
    return occlusion(classifier, texts, batch_size, max_occlusions)


def explain_frame(classifier, frame, text_column: str | None = None, source: object = "input", *,
                  method: str = DEFAULT_METHOD, max_occlusions: int | None = None):
    """A copy of ``frame`` with label, score, the three words that most support the label, and every word's
    weight (a JSON list of [word, weight]) added; the user's own columns are never overwritten."""
    import json

    from .data import TEXT_COLUMNS, find_column

    column = find_column(frame, text_column, TEXT_COLUMNS, "text", source)
    found = explain(classifier, frame[column].astype(str).tolist(), method, max_occlusions=max_occlusions or
                    MAX_OCCLUSIONS)
    out = frame.copy()
    added = {"label": [e.label for e in found], "score": [round(e.score, 4) for e in found],
             "supports": [", ".join(e.top(3)) for e in found],
             "word_weights": [json.dumps(e.to_dict()["words"], ensure_ascii=False) for e in found]}
    prefix = "explained_" if set(added) & set(out.columns) else ""
    for name, values in added.items():
        out[prefix + name] = values
    return out


def explain_file(classifier, source, target, text_column: str | None = None, *, method: str = DEFAULT_METHOD,
                 max_occlusions: int | None = None, chunk_rows: int = 1000) -> int:
    """Explain every row of a file into ``target`` (every original column kept); returns the number of rows."""
    from .storage import map_file

    return map_file(source, target, lambda chunk: explain_frame(classifier, chunk, text_column, source, method=method,
                                                                max_occlusions=max_occlusions), chunk_rows)
