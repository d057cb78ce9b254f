"""scikit-learn parts of a model folder saved without pickle: settings and vocabularies as JSON, arrays as safetensors.

A pickle runs code when it is loaded, so a model folder holds none (see DESIGN.md, "Safe to share"). The TF-IDF
pipeline and SetFit's logistic-regression head are saved as two files each, ``NAME.json`` (the estimators' settings,
vocabularies in column order) and ``NAME.safetensors`` (idf vectors, coefficients, intercepts, classes), and rebuilt
into the same scikit-learn objects on load, so predictions are those of the fitted objects (benchmarks/parts_storage.py
measures load time, size and the largest probability difference against joblib).

An older folder holds a joblib pickle instead; it loads only with ``trust_pickle=True`` (``--trust-pickle``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ModelError, first_line
from .storage import atomic_write

FORMAT_VERSION = 1
# what build_pipeline and setfit set, and what a rebuilt estimator may be given: JSON values only, never callables
VECTORIZER_SETTINGS = ("analyzer", "binary", "decode_error", "encoding", "input", "lowercase", "max_df",
                       "max_features", "min_df", "ngram_range", "norm", "smooth_idf", "stop_words", "strip_accents",
                       "sublinear_tf", "token_pattern", "use_idf")
CLASSIFIER_SETTINGS = ("C", "dual", "fit_intercept", "intercept_scaling", "l1_ratio", "max_iter", "random_state",
                       "solver", "tol")
TRUST_HINT = ("a pickle, which can run code when loaded; load it only if you trust where the folder came from, "
              "with --trust-pickle (Classifier.load(..., trust_pickle=True)), or retrain the model")


def files(name: str) -> tuple[str, str]:
    """The two files a part called ``name`` is saved as."""
    return f"{name}.json", f"{name}.safetensors"


def save_tfidf(pipeline, folder: Path, name: str) -> None:
    """Save a fitted TF-IDF pipeline (a FeatureUnion of TfidfVectorizers, then a LogisticRegression)."""
    features, classifier = pipeline.steps[0][1], pipeline.steps[-1][1]
    arrays: dict[str, np.ndarray] = {}
    saved_features = []
    for feature, vectorizer in features.transformer_list:
        params = vectorizer.get_params()
        if params["tokenizer"] is not None or params["preprocessor"] is not None or callable(params["analyzer"]) \
                or params["dtype"] is not np.float64:
            raise ValueError(f"{feature}: only string settings can be saved without pickle")
        vocabulary = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            vocabulary[column] = term
        saved_features.append({"name": feature, "settings": {k: params[k] for k in VECTORIZER_SETTINGS},
                               "vocabulary": vocabulary})
        arrays[f"features.{feature}.idf"] = vectorizer.idf_
    saved = {"format": "samiksha.tfidf", "version": FORMAT_VERSION, "features": saved_features,
             "classifier": _classifier_settings(classifier)}
    _write(folder, name, saved, arrays | _classifier_arrays(classifier))


def save_logistic(classifier, folder: Path, name: str) -> None:
    """Save a fitted LogisticRegression (SetFit's head)."""
    saved = {"format": "samiksha.logistic", "version": FORMAT_VERSION, "classifier": _classifier_settings(classifier)}
    _write(folder, name, saved, _classifier_arrays(classifier))


def load_tfidf(folder: Path, name: str, legacy: str, trust_pickle: bool = False):
    """The TF-IDF pipeline saved as ``name`` in ``folder`` (or an older folder's pickle ``legacy``, if trusted)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline

    found = _read(folder, name, legacy, trust_pickle)
    if not isinstance(found, tuple):
        return found
    saved, arrays, source = found
    try:
        if saved.get("format") != "samiksha.tfidf":
            raise ValueError("not a saved TF-IDF model")
        features = []
        for feature in saved["features"]:
            settings = _settings(feature["settings"], VECTORIZER_SETTINGS)
            settings["ngram_range"] = tuple(settings["ngram_range"])
            vectorizer = TfidfVectorizer(**settings)
            idf = arrays[f"features.{feature['name']}.idf"]
            vocabulary = feature["vocabulary"]
            if len(vocabulary) != len(idf) or len(set(vocabulary)) != len(vocabulary):
                raise ValueError(f"{feature['name']}: the vocabulary and idf vector do not match")
            vectorizer.vocabulary_ = {term: column for column, term in enumerate(vocabulary)}
            vectorizer.idf_ = idf
            features.append((feature["name"], vectorizer))
        width = sum(len(f["vocabulary"]) for f in saved["features"])
        pipeline = Pipeline([("features", FeatureUnion(features)),
                             ("classifier", _classifier(saved["classifier"], arrays, width))])
        pipeline.predict_proba([""])  # settings scikit-learn refuses fail here, not on the first review
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelError(f"{source}: not a usable TF-IDF model ({first_line(err)})") from None
    return pipeline


def load_logistic(folder: Path, name: str, legacy: str, trust_pickle: bool = False, width: int | None = None):
    """The LogisticRegression saved as ``name`` (or an older folder's pickle ``legacy``, if trusted)."""
    found = _read(folder, name, legacy, trust_pickle)
    if not isinstance(found, tuple):
        return found
    saved, arrays, source = found
    try:
        if saved.get("format") != "samiksha.logistic":
            raise ValueError("not a saved logistic regression")
        return _classifier(saved["classifier"], arrays, width)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelError(f"{source}: not a usable classifier head ({first_line(err)})") from None


def _classifier_settings(classifier) -> dict:
    params = classifier.get_params()
    return {"settings": {k: params[k] for k in CLASSIFIER_SETTINGS}}


def _classifier_arrays(classifier) -> dict[str, np.ndarray]:
    return {"classifier.coef": classifier.coef_, "classifier.intercept": classifier.intercept_,
            "classifier.classes": np.asarray(classifier.classes_, dtype=np.int64)}


def _classifier(saved: dict, arrays: dict[str, np.ndarray], width: int | None):
    """A LogisticRegression with the saved coefficients, checked against the features it reads."""
    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(**_settings(saved["settings"], CLASSIFIER_SETTINGS))
    coef, intercept, classes = (arrays[f"classifier.{k}"] for k in ("coef", "intercept", "classes"))
    rows = 1 if len(classes) == 2 else len(classes)
    if coef.ndim != 2 or coef.shape[0] != rows or intercept.shape != (rows,) or classes.ndim != 1 \
            or classes.dtype.kind not in "iu" or len(classes) < 2 or (width is not None and coef.shape[1] != width):
        raise ValueError(f"coefficients of shape {coef.shape} do not fit {len(classes)} classes"
                         + (f" and {width} features" if width is not None else ""))
    classifier.coef_, classifier.intercept_, classifier.classes_ = coef, intercept, classes
    classifier.n_features_in_ = coef.shape[1]
    return classifier


def _settings(saved: dict, allowed: tuple[str, ...]) -> dict:
    """The saved settings, refusing any name a rebuilt estimator does not take from a file."""
    unknown = set(saved) - set(allowed)
    if unknown:
        raise ValueError(f"unknown settings {', '.join(sorted(unknown))}")
    return dict(saved)


def _write(folder: Path, name: str, saved: dict, arrays: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    config_file, array_file = files(name)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(folder / array_file),
              metadata={"format": saved["format"]})
    text = json.dumps(saved, ensure_ascii=False, separators=(",", ":"))  # compact: vocabularies are long
    atomic_write(folder / config_file, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def _read(folder: Path, name: str, legacy: str, trust_pickle: bool):
    """(settings, arrays, source) for a safely saved part, or the unpickled object of a trusted older folder."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    config_file, array_file = (folder / f for f in files(name))
    if not config_file.exists() and not array_file.exists():
        if (folder / legacy).exists():
            if not trust_pickle:
                raise ModelError(f"{folder / legacy}: {TRUST_HINT}")
            import joblib

            return joblib.load(folder / legacy)
        raise ModelError(f"{folder}: the {name} part is missing ({config_file.name} and {array_file.name})")
    for file in (config_file, array_file):
        if not file.exists():
            raise ModelError(f"{file}: missing (the {name} part is saved as {config_file.name} and {array_file.name})")
    try:
        saved = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelError(f"{config_file}: not valid JSON ({first_line(err)})") from None
    try:
        arrays = load_file(str(array_file))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{array_file}: unreadable, perhaps truncated ({first_line(err)})") from None
    return saved, arrays, config_file

