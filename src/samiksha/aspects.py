"""What a review is about: aspects (delivery, packaging, quality, ...) and the sentiment toward each.

No aspect labels are needed. A review is cut into clauses at sentence ends, commas and connectives in the three
scripts ("par", "lekin", "but", "पर", "लेकिन", ...). A clause speaks of an aspect when it holds one of the aspect's
seed words or phrases (whole words, any script; a seed ending in ``*`` also matches longer words, "deliver*" ->
"delivered"; ``#`` stands for a number, "# mein" -> "499 mein"). Each aspect's sentiment is scored on the first
clause that names it: the trained model's log-probabilities for the whole review, blended half and half with the
clause's own when a review's aspects sit in different clauses, plus the clause's polarity words (a small lexicon in
the three scripts, flipped by a nearby "nahi"/"not"/"नहीं") for the labels named negative and positive.

Chosen on the hand-labelled development set (demo_data/aspects_dev.csv) and reported on the separate test set
(benchmarks/insights.py). Measured there and left out: matching clauses to aspects by the multilingual encoder
(cosine to each aspect's description and seeds) lowered detection micro-F1 at every threshold tried (0.807 ->
0.68-0.79); a clause's model label alone was right less often than the review's (0.56 against 0.65), as a model
trained on whole reviews reads short fragments poorly; the polarity words are what lift aspect sentiment.

Users add or replace aspects with a small text file, one aspect per line, ``name: word, word, a phrase``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError
from .explain import word_spans

CLAUSE_WEIGHT = 0.5  # in a review whose aspects sit in different clauses: the clause's share of the log-probability


@dataclass(frozen=True)
class Aspect:
    """An aspect: its name and seed words or phrases (any script)."""

    name: str
    seeds: tuple[str, ...]


DEFAULT_ASPECTS = (
    Aspect("delivery", (  # delivery and shipping: how fast and how the order arrived
        "deliver*", "delivery boy", "courier", "shipping", "shipment", "shipped", "dispatch*", "arrived", "arrive",
        "reached", "tracking", "late", "delay*", "on time", "parcel", "order aaya", "aa gaya", "aa gayi", "mil gaya",
        "mila", "pahunch*", "pohoch*", "jaldi aaya", "der se", "time pe", "time par", "din mein aaya", "dilivery",
        "डिलीवरी", "डिलिवरी", "कूरियर", "पार्सल", "समय पर", "देर से", "पहुंच*", "पहुँच*", "आ गया", "आ गई", "मिल गया",
        "schedule", "darwaze",
    )),
    Aspect("packaging", (  # packaging: the box, packing and wrapping
        "pack*", "box", "boxes", "wrap*", "bubble wrap", "seal*", "carton", "dabba", "dibba", "packaging",
        "पैकिंग", "पैकेजिंग", "डिब्बा", "डिब्बे", "बॉक्स", "सील", "lapet*", "लपेट*", "akhbaar", "thermocol",
    )),
    Aspect("quality", (  # product quality: material, build, performance, taste, looks, working or broken
        "quality", "qualty", "material", "fabric", "build", "durable", "sturdy", "finish*", "stitch*", "broke*",
        "break*", "toot*", "tut*", "defect*", "damage*", "faulty", "kharab", "working", "stopped working", "kaam",
        "chal*", "performance", "battery", "sound", "awaaz", "taste", "swad", "smell", "colour", "color", "rang",
        "design", "looks", "original", "fake", "duplicate", "nakli", "product", "kapda", "kapde", "camera",
        "screen", "display", "heat*", "garam", "charging", "gunvatta", "silai", "फैब्रिक", "क्वालिटी", "गुणवत्ता",
        "कपड़ा", "कपड़े", "मटेरियल", "टूट*", "खराब", "स्वाद", "रंग", "डिज़ाइन", "डिजाइन", "बैटरी", "आवाज़",
        "आवाज", "चलता", "चल रहा", "काम", "नकली", "असली", "सिलाई", "प्रोडक्ट", "सामान", "solid", "mazboot",
        "mazbut", "मज़बूत", "मजबूत", "sundar", "सुंदर", "beautiful", "lovely", "comfortable", "comfy", "aaramdayak",
        "आरामदायक", "soft", "मुलायम", "noisy", "bass", "patla", "flimsy", "bhaari", "भारी", "smooth", "features",
        "band ho gaya", "band ho gayi", "बंद हो गया", "बंद हो गई", "gave up", "dead", "shade", "print", "zip",
    )),
    Aspect("price", (  # price and value for money: cheap, expensive, worth it
        "price", "priced", "pricey", "cost*", "cheap", "expensive", "costly", "value for money", "worth*",
        "money", "paisa", "paise", "paisa vasool", "paisa wasool", "sasta", "saste", "sasti", "mehenga", "mehnga",
        "mahanga", "mehengi", "budget", "discount", "offer", "deal", "rs", "rupees", "₹*", "daam", "kimat", "keemat",
        "overpriced", "pricier", "rate", "steal", "# mein", "# me", "# ka", "# ki", "# ke", "# rs", "rs #", "# rupaye",
        "# में", "# का", "# की", "# के", "# रुपये", "sale",
        "कीमत", "दाम", "पैसा", "पैसे", "सस्ता", "सस्ती", "महंगा", "महँगा", "महंगी", "रुपये", "ऑफर",
    )),
    Aspect("seller", (  # seller and customer service: support, replies, wrong or missing items
        "seller", "sellar", "shop", "store", "vendor", "customer care", "customer service", "customer support",
        "support", "service", "helpline", "response", "respond*", "reply", "replied", "wrong item",
        "wrong product", "missing", "dukaandar", "dukandar", "dukan", "विक्रेता", "सेलर", "दुकानदार",
        "कस्टमर केयर", "ग्राहक सेवा", "सर्विस", "जवाब", "गलत", "invoice", "bill", "gst", "बिल",
    )),
    Aspect("returns", (  # returns, refunds, exchanges and replacements
        "return*", "refund*", "exchange*", "replace*", "replacement", "money back", "pickup", "paise wapas",
        "wapas", "vapas", "badal*", "badla", "रिटर्न", "रिफंड", "वापस", "वापसी", "बदल*", "एक्सचेंज", "रिप्लेसमेंट",
    )),
    Aspect("size", (  # size and fit: too small, too big, tight, loose, size chart
        "size", "sizes", "fit", "fits", "fitting", "tight", "loose", "small", "big", "large", "chhota", "chota",
        "chhoti", "bada", "badi", "dheela", "dhila", "size chart", "length", "lamba", "lambai", "naap", "inch*",
        "साइज", "साइज़", "फिटिंग", "फिट", "टाइट", "ढीला", "ढीली", "छोटा", "छोटी", "बड़ा", "बड़ी", "नाप", "लंबाई",
        "कसी", "कसा", "kasi", "baithta", "बैठता", "sleeves", "number",
    )),
)
ASPECT_NAMES = tuple(a.name for a in DEFAULT_ASPECTS)

# words that start a new clause: contrast first ("par" and "पर" only after a verb, as they are also "on": "time par")
_ALWAYS = {"lekin", "lekn", "lkin", "magar", "mgr", "but", "however", "though", "although", "whereas", "while",
           "kintu", "parantu", "aur", "and", "also", "plus", "bas", "लेकिन", "मगर", "किंतु", "किन्तु", "परंतु",
           "परन्तु", "और"}
_AFTER_VERB = {"par", "pr", "per", "पर"}
_VERBS = {"hai", "h", "he", "hain", "thi", "tha", "the", "hui", "hua", "gaya", "gayi", "gyi", "gya", "raha", "rahi",
          "is", "was", "were", "are", "है", "हैं", "था", "थी", "थे", "हुआ", "हुई", "गया", "गई", "रहा", "रही"}
# A clause's polarity words (any script) and the words that flip them when within 3 words before or 2 after
# ("packing achhi nahi thi"). Added to the model's scores for the labels named negative and positive.
POSITIVE_WORDS = frozenset("""
achha acha accha achchha achhi achi acchi badhiya badiya badhia mast zabardast shandar sahi perfect good great nice
excellent awesome amazing love loved best fast jaldi quick quickly soft smooth sturdy solid mazboot comfortable
beautiful sundar khush happy worth helpful polite intact safe fine superb fantastic wonderful lovely pleasant
recommend satisfied अच्छा अच्छी अच्छे बढ़िया शानदार सुंदर मज़बूत मजबूत बेहतरीन तेज़ जल्दी सही खुश कमाल आरामदायक
मुलायम""".split())
NEGATIVE_WORDS = frozenset("""
bekaar bekar ghatiya kharab bakwas worst bad poor late der slow toota tuta tooti tuti broken damaged fake nakli tight
dheela dhila mehenga mehnga costly expensive waste wasted rude useless defective faulty cheap flimsy dull missing wrong
galat disappointed disappointing horrible terrible pathetic leak leaking torn dirty delay delayed बेकार घटिया खराब
टूटा टूटी देर महंगा महँगा नकली ढीला ढीली गलत बर्बाद फटा फटी""".split())
NEGATORS = frozenset("nahi nahin nhi na not no never dont don't didn't isn't wasn't नहीं न".split())
POLARITY_WEIGHT = 2.0  # measured on the dev set: from 2 up, a clause's polarity words decide (0.5: 0.66, 1: 0.69, 2: 0.72)
_RUPEES = re.compile(r"(?i)\b(rs)\.\s*")  # "Rs. 499": not a sentence end
_CLAUSE_END = re.compile(r"(?:[!?।;\n]|(?<!\d)[,.]|[,.](?!\d))+|\s[-–—]\s")  # not inside 1,299 or 4.5


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def clauses(text: str) -> list[str]:
    """``text`` cut at sentence ends, commas and connectives; the connective starts the next clause."""
    pieces: list[str] = []
    for sentence in _CLAUSE_END.split(_RUPEES.sub(r"\1 ", text)):
        spans = word_spans(sentence)
        start = 0
        for k in range(1, len(spans)):
            word = _fold(sentence[spans[k][0]:spans[k][1]])
            before = _fold(sentence[spans[k - 1][0]:spans[k - 1][1]])
            if word in _ALWAYS or (word in _AFTER_VERB and before in _VERBS):
                pieces.append(sentence[start:spans[k][0]])
                start = spans[k][0]
        pieces.append(sentence[start:])
    return [p.strip() for p in pieces if word_spans(p.strip())]


NUMBER = r"[₹$]?\d[\d,.]*"  # "#" in a seed: a number, as in "# mein" ("499 mein") or "rs #"


def polarity(clause: str) -> int:
    """Positive minus negative polarity words in ``clause``, each flipped by a nearby negator."""
    words = [_fold(clause[a:b]) for a, b in word_spans(clause)]
    score = 0
    for i, word in enumerate(words):
        sign = (word in POSITIVE_WORDS) - (word in NEGATIVE_WORDS)
        if sign and NEGATORS.intersection(words[max(0, i - 3):i] + words[i + 1:i + 3]):
            sign = -sign
        score += sign
    return score


def _seed_pattern(seeds: Sequence[str]) -> re.Pattern:
    parts = []
    for seed in sorted({_fold(s.strip()) for s in seeds if s.strip()}, key=len, reverse=True):
        prefix = seed.endswith("*")
        body = r"\s+".join(NUMBER if w == "#" else re.escape(w) for w in seed.rstrip("*").split())
        parts.append(body + (r"[\w\u0900-\u097F]*" if prefix else ""))
    # whole words: no letter (any script) or Devanagari sign right before or after
    return re.compile(r"(?<![\w\u0900-\u097F])(?:" + "|".join(parts) + r")(?![\w\u0900-\u097F])")


@dataclass
class AspectSentiment:
    """An aspect found in a review, the sentiment toward it, and the clause that named it first."""

    aspect: str
    sentiment: str
    clause: str

    def to_dict(self) -> dict:
        return {"aspect": self.aspect, "sentiment": self.sentiment}


class AspectFinder:
    """Finds aspects and their sentiment in reviews, with a trained Classifier for the sentiment."""

    def __init__(self, classifier, aspects: Sequence[Aspect] = DEFAULT_ASPECTS, clause_weight: float = CLAUSE_WEIGHT,
                 polarity_weight: float = POLARITY_WEIGHT):
        self.classifier, self.aspects, self.clause_weight = classifier, list(aspects), clause_weight
        self.patterns = [_seed_pattern(a.seeds) for a in self.aspects]
        labels = list(classifier.labels)
        self.polar = np.zeros(len(labels))  # the score a polarity of +1 adds to each label
        if {"negative", "positive"} <= set(labels):
            self.polar[labels.index("negative")], self.polar[labels.index("positive")] = -polarity_weight, polarity_weight

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.aspects]

    def find(self, texts: Sequence[str], batch_size: int = 64) -> list[list[AspectSentiment]]:
        """For each text, the aspects it speaks of, in order of first mention, each with a sentiment."""
        return self.find_with_proba(texts, batch_size)[0]

    def find_with_proba(self, texts: Sequence[str], batch_size: int = 64,
                        progress: Callable[[float], None] | None = None,
                        ) -> tuple[list[list[AspectSentiment]], np.ndarray]:
        """`find`, and each whole review's label probabilities from the same model pass (as `predict_proba`).
        ``progress`` is called with the share of ``texts`` each batch stands for."""
        texts = [str(t) for t in texts]
        split = [clauses(t) or [t] for t in texts]
        mentions: list[dict[int, tuple[int, int]]] = []  # per text: aspect -> (its clause, place in it), first mention
        for cs in split:
            first: dict[int, tuple[int, int]] = {}
            for k, clause in enumerate(map(_fold, cs)):
                for j, pattern in enumerate(self.patterns):
                    match = pattern.search(clause) if j not in first else None
                    if match:
                        first[j] = (k, match.start())
            mentions.append(first)
        # the model reads every review, and a clause only where the review's aspects sit in different clauses
        naming = [sorted({k for k, _ in first.values()}) for first in mentions]
        scored = [(i, k) for i, ks in enumerate(naming) if len(ks) > 1 for k in ks]
        everything = texts + [split[i][k] for i, k in scored]
        scale = len(texts) / max(len(everything), 1)
        counted = {} if progress is None else {"progress": lambda n: progress(n * scale)}
        raw = self.classifier.predict_proba(everything, batch_size, **counted)
        proba = np.log(np.clip(raw, 1e-9, 1.0))
        clause_row = {key: len(texts) + n for n, key in enumerate(scored)}
        out = []
        for i, first in enumerate(mentions):
            found = []
            for j, (k, _) in sorted(first.items(), key=lambda item: item[1]):
                row = clause_row.get((i, k))
                score = proba[i] if row is None else self.clause_weight * proba[row] + (1 - self.clause_weight) * proba[i]
                found.append(AspectSentiment(self.aspects[j].name, self.classifier.labels[int(
                    (score + polarity(split[i][k]) * self.polar).argmax())], split[i][k]))
            out.append(found)
        return out, raw[:len(texts)]


def keyword_baseline(classifier, texts: Sequence[str], aspects: Sequence[Aspect] = DEFAULT_ASPECTS,
                     batch_size: int = 64) -> list[list[AspectSentiment]]:
    """The keyword-only baseline: seed words anywhere in the review, each aspect given the review's label."""
    patterns = [(a.name, _seed_pattern(a.seeds)) for a in aspects]
    labels = classifier.predict([str(t) for t in texts], batch_size)
    return [[AspectSentiment(name, label, str(text)) for name, p in patterns if p.search(_fold(str(text)))]
            for text, label in zip(texts, labels)]


def read_aspect_file(path: str | Path) -> list[Aspect]:
    """Aspects from a text file: one per line, ``name: word, word, a phrase`` (a line starting with # is a comment)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read the aspect file ({err})") from None
    aspects: list[Aspect] = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):  # a comment; elsewhere "#" is a number in a seed
            continue
        name, sep, words = line.partition(":")
        name = name.strip()
        seeds = tuple(w.strip() for w in words.split(",") if w.strip())
        if not sep or not re.fullmatch(r"[\w-]+", name) or not seeds or any(not s.rstrip("*") for s in seeds):
            raise DataError(path, f"line {number}: expected 'name: word, word, a phrase' (got {line[:60]!r})")
        if name in {a.name for a in aspects}:
            raise DataError(path, f"line {number}: aspect '{name}' is named twice")
        aspects.append(Aspect(name, seeds))
    if not aspects:
        raise DataError(path, "no aspects in the file (one per line: 'name: word, word, a phrase')")
    return aspects


def aspect_set(file: str | Path | None = None, replace: bool = False) -> list[Aspect]:
    """The default aspects, with a user file's aspects added (a same-named default is replaced), or only the
    file's aspects when ``replace``."""
    if file is None:
        return list(DEFAULT_ASPECTS)
    own = read_aspect_file(file)
    if replace:
        return own
    names = {a.name for a in own}
    return [a for a in DEFAULT_ASPECTS if a.name not in names] + own


def aspect_frame(finder: AspectFinder, frame, text_column: str | None = None, source: object = "input",
                 batch_size: int = 64):
    """A copy of ``frame`` with an ``aspects`` column: a JSON list of {"aspect", "sentiment"} per row."""
    import json

    from .data import TEXT_COLUMNS, find_column

    column = find_column(frame, text_column, TEXT_COLUMNS, "text", source)
    found = finder.find(frame[column].astype(str).tolist(), batch_size)
    out = frame.copy()
    name = "predicted_aspects" if "aspects" in out.columns else "aspects"  # never overwrite the user's column
    out[name] = [json.dumps([a.to_dict() for a in row], ensure_ascii=False) for row in found]
    return out


def aspects_file(finder: AspectFinder, source: str | Path, target: str | Path | None, text_column: str | None = None,
                 batch_size: int = 64, chunk_rows: int = 10_000) -> int:
    """Add aspects to every row of a file, chunk by chunk; every original column is kept. Returns the rows."""
    from .storage import map_file

    return map_file(source, target, lambda chunk: aspect_frame(finder, chunk, text_column, source, batch_size),
                    chunk_rows)


SENTIMENTS = ("negative", "neutral", "positive")


def read_aspect_labels(path: str | Path) -> tuple[list[str], list[list[tuple[str, str]]]]:
    """Texts and their hand labels from a file like demo_data/aspects_test.csv (``aspects``: 'name:sentiment;...')."""
    import csv

    path = Path(path)
    texts, labels = [], []
    with open(path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), 2):
            pairs = []
            for item in filter(None, (p.strip() for p in (row.get("aspects") or "").split(";"))):
                name, _, sentiment = item.partition(":")
                if sentiment not in SENTIMENTS:
                    raise DataError(path, f"expected 'name:sentiment' with a sentiment of {', '.join(SENTIMENTS)} "
                                          f"(got {item!r})", number, "aspects")
                pairs.append((name, sentiment))
            texts.append(row["text"])
            labels.append(pairs)
    return texts, labels


def aspect_scores(gold: Sequence[Sequence[tuple[str, str]]], found: Sequence[Sequence[tuple[str, str]]],
                  names: Sequence[str] = ASPECT_NAMES) -> dict:
    """Aspect detection micro- and macro-F1 (scikit-learn's, over ``names``), sentiment accuracy on the aspects both
    found and labelled, and the F1 of (aspect, sentiment) pairs (both right)."""
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    def detected(rows: Sequence[Sequence[tuple[str, str]]]) -> list[set[str]]:
        return [{name for name, _ in row} & set(names) for row in rows]

    aspects = MultiLabelBinarizer(classes=list(names))
    y_gold, y_found = aspects.fit_transform(detected(gold)), aspects.transform(detected(found))
    both = []  # (labelled, found) sentiment of each aspect both labelled and found
    for g, f in zip(gold, found):
        g_map, f_map = dict(g), dict(f)
        both += [(g_map[n], f_map[n]) for n in names if n in g_map and n in f_map]
    pairs = MultiLabelBinarizer().fit([*map(set, gold), *map(set, found)])
    pair_f1 = f1_score(pairs.transform(map(set, gold)), pairs.transform(map(set, found)), average="micro",
                       zero_division=0) if len(pairs.classes_) else 0.0
    return {"micro_f1": float(f1_score(y_gold, y_found, average="micro", zero_division=0)),
            "macro_f1": float(f1_score(y_gold, y_found, average="macro", zero_division=0)),
            "per_aspect_f1": dict(zip(names, map(float, f1_score(y_gold, y_found, average=None, zero_division=0)))),
            "sentiment_accuracy": sum(g == f for g, f in both) / len(both) if both else 0.0,
            "sentiment_on": len(both),
            "pair_f1": float(pair_f1)}
