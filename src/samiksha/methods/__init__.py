"""The method registry: training methods by name, one module each, all following `base.Method`.

The built-in methods are the modules named in BUILT_IN; another package adds one without a fork by an entry point in
the group ``samiksha.methods`` naming its Method object (``[project.entry-points."samiksha.methods"]`` in its
pyproject.toml: ``mine = "my_package.module:METHOD"``), or at run time with `register`. `train`, the CLI, `compare`
and the model card ask the registry and never name a method.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.metadata as md
import json
import logging
import types
import typing
from dataclasses import replace
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import TrainConfig
from ..errors import SamikshaError, first_line
from .base import FitJob, Fitted, Method, Targets

if TYPE_CHECKING:  # pandas (under data) loads with the first data read, not with the command line
    from ..data import LabelledData

__all__ = ["AUTO", "ENTRY_POINTS", "FitJob", "Fitted", "Method", "alias", "all_methods", "check",
           "choose", "compared", "for_folder", "get", "help_text", "names", "parse_setting", "part_names", "preset",
           "read_settings", "register", "resolve", "settings_help", "Targets", "with_settings"]

log = logging.getLogger(__name__)

AUTO = "auto"  # not a method: `--method auto` asks each method's `auto` test, in registry order
ENTRY_POINTS = "samiksha.methods"
BUILT_IN = ("stack", "finetune", "setfit", "tfidf", "ensemble")  # modules of this package, each with METHOD
PLAIN_FOLDER = "finetune"  # loads a folder without samiksha.json (a plain Hugging Face model)
_UNSET = object()
NOT_SETTINGS = ("settings", "legacy", "extra", "method", "preset")  # TrainConfig fields --set does not set
_registry: dict[str, Method] = {}
_loaded = False


def register(method: Method) -> Method:
    """Add ``method`` under its name (the entry-point loader's own way in; a test's too)."""
    if not getattr(method, "name", None) or method.name == AUTO:
        raise SamikshaError(f"a method needs a name other than '{AUTO}': {method!r}")
    _registry[method.name] = method
    return method


def _load() -> None:
    """Register the built-in methods, then each ``samiksha.methods`` entry point (once per process)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILT_IN:
        register(import_module(f".{module}", __name__).METHOD)
    for entry in md.entry_points(group=ENTRY_POINTS):
        try:
            method = entry.load()
            register(method() if isinstance(method, type) else method)
        except Exception as err:  # one broken plugin must not stop Samiksha
            log.warning("method plugin %s (%s) not loaded: %s", entry.name, entry.value,
                        first_line(err))


def all_methods() -> list[Method]:
    """Every registered method, built-in ones first."""
    _load()
    return list(_registry.values())


def names() -> list[str]:
    return [m.name for m in all_methods()]


def get(name: str) -> Method:
    """The method called ``name``."""
    _load()
    if name not in _registry:
        raise SamikshaError(f"unknown method '{name}' (choose from {', '.join([AUTO, *_registry])})")
    return _registry[name]


def compared() -> list[str]:
    """The methods `compare` and `curve` train when none are named."""
    return [m.name for m in all_methods() if m.compared]


def help_text() -> str:
    """``--method``'s help: auto and each registered method with its summary."""
    listed = [f"{m.name} ({m.summary})" if m.summary else m.name for m in all_methods()]
    return (f"{AUTO} (default: chosen by labelled examples per class), {', '.join(listed[:-1])} or {listed[-1]}. "
            "Method settings: --set SECTION.NAME=VALUE.")


def part_names() -> dict[str, str]:
    """What each part a method's report scores is, by the part's name in metrics.json."""
    return {name: text for m in all_methods() for name, text in m.parts.items()}


def settings_help() -> str:
    """Every method setting ``--set`` takes, by section, with its default."""
    return "; ".join(f"{section}.{{{', '.join(f'{f.name}={f.default}' for f in dataclasses.fields(cls))}}}"
                     for section, cls in _sections().items())


def for_folder(meta: dict) -> Method:
    """The method that loads a folder with this samiksha.json (a plain Hugging Face folder has none)."""
    return get(meta.get("method") or PLAIN_FOLDER)


def check(name: str) -> str:
    """``name`` if it is ``auto`` or a registered method, else one clear line."""
    if name != AUTO:
        get(name)
    return name


def choose(config: TrainConfig, counts: dict[str, int], sentence_model: bool = True) -> tuple[str, str]:
    """The method to train and why: as set, or for ``auto`` the first method whose `auto` test fits the data."""
    if config.method != AUTO:
        return check(config.method), "as requested"
    for method in all_methods():
        reason = method.auto(config, counts, sentence_model)
        if reason is not None:
            return method.name, reason
    raise SamikshaError(f"no method fits this data by itself (label counts {counts}); choose one with --method")


# -- settings -----------------------------------------------------------------------------------------------------


def _sections() -> dict[str, type]:
    return {m.settings.section: m.settings for m in all_methods() if m.settings is not None}


def with_settings(config: TrainConfig, method: Method) -> TrainConfig:
    """``config`` for ``method``: its settings made whole (every field, checked) and the other methods' dropped."""
    settings = {}
    if method.settings is not None:
        settings = {method.settings.section: dataclasses.asdict(config.method_settings(method.settings))}
    return replace(config, method=method.name, settings=settings, legacy={})


def _convert(value: Any, kind: Any, key: str, where: str) -> Any:
    """``value`` (a string from the command line, or a JSON value) as the type ``kind``."""
    options = typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, types.UnionType) else (kind,)
    if type(None) in options and (value is None or str(value).strip().lower() in ("none", "null")):
        return None
    for option in (o for o in options if o is not type(None)):
        try:
            if option is bool:
                if isinstance(value, bool):
                    return value
                word = str(value).strip().lower()
                if word in ("true", "yes", "1", "on", "false", "no", "0", "off"):
                    return word in ("true", "yes", "1", "on")
            elif option in (int, float, str):
                if option is int and isinstance(value, float) and not value.is_integer():
                    continue
                return option(value)
            elif typing.get_origin(option) is list:
                return [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else list(value)
        except (TypeError, ValueError):
            continue
    kinds = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise SamikshaError(f"{where} {key}: '{value}' is not of type {kinds}")


def parse_setting(pair: str, into: dict[str, Any], value: Any = _UNSET, where: str = "--set") -> None:
    """Add one ``KEY=VALUE`` (``--set``) to ``into``, a TrainConfig's keyword arguments: KEY is a shared setting
    (``epochs``) or a method's (``finetune.warmup``); VALUE is read as that setting's type (``value``: given apart,
    as a JSON value)."""
    if value is _UNSET:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SamikshaError(f"--set {pair}: expected KEY=VALUE, such as finetune.warmup=0.1")
    else:
        key = pair
    key = key.strip()
    section, dot, name = key.rpartition(".")
    if not dot:
        cls, target = TrainConfig, into
        if name in NOT_SETTINGS:
            raise SamikshaError(f"{where} {key}: not a setting (use --{name} for it)" if name in ("method", "preset")
                                else f"{where} {key}: not a setting")
    else:
        sections = _sections()
        if section not in sections:
            raise SamikshaError(f"{where} {key}: no method has settings '{section}' "
                                f"(choose from {', '.join(sections) or 'none'})")
        cls = sections[section]
        target = into.setdefault("settings", {}).setdefault(section, {})
    hints = typing.get_type_hints(cls)
    if name not in hints or name not in {f.name for f in dataclasses.fields(cls)}:
        choices = [f.name if not dot else f"{section}.{f.name}" for f in dataclasses.fields(cls)
                   if f.name not in NOT_SETTINGS]
        raise SamikshaError(f"{where} {key}: unknown setting (choose from {', '.join(choices)})")
    target[name] = _convert(value, hints[name], key, where)


def read_settings(path: str | Path, into: dict[str, Any]) -> None:
    """Add the settings of a JSON file to ``into`` (as `parse_setting`): ``{"epochs": 3, "finetune": {"warmup":
    0.1}}``, shared settings at the top and each method's in an object named by its section."""
    try:
        values = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise SamikshaError(f"{path}: cannot read the settings ({first_line(err)})") from None
    if not isinstance(values, dict):
        raise SamikshaError(f"{path}: expected a JSON object of settings, such as "
                            '{"epochs": 3, "finetune": {"warmup": 0.1}}')
    for key, value in values.items():
        pairs = value.items() if isinstance(value, dict) else [(None, value)]
        for name, item in pairs:
            parse_setting(f"{key}.{name}" if name is not None else key, into, item, where=str(path))


def alias(into: dict[str, Any], name: str, value: Any) -> None:
    """Set a method setting the CLI keeps a flag for (``--freeze-embeddings``), by the name a method gives it."""
    if value is None:
        return
    keys = [m.aliases[name] for m in all_methods() if name in m.aliases]
    if not keys:
        raise SamikshaError(f"no method has a setting for --{name.replace('_', '-')}")
    parse_setting(keys[0], into, value)


def preset(name: str = "default", **overrides: Any) -> TrainConfig:
    """A config for a preset (``default``, or one a method declares); ``overrides`` that are not None win."""
    values: dict[str, Any] = {"preset": name}
    if name != "default":
        declared = {p: m for m in all_methods() for p in m.presets}
        if name not in declared:
            raise SamikshaError(f"unknown preset '{name}' (choose from {', '.join(['default', *declared])})")
        method = declared[name]
        values.update(method=method.name, **copy.deepcopy(method.presets[name]))
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "settings":
            for section, fields in value.items():
                values.setdefault("settings", {}).setdefault(section, {}).update(fields)
        else:
            values[key] = value
    if values.get("method", AUTO) != AUTO:
        check(values["method"])
    config = TrainConfig(**values)
    sections = _sections()
    for section in config.settings:  # one clear line now, not after the data is read
        if section not in sections:
            raise SamikshaError(f"no method has settings '{section}' (choose from {', '.join(sections) or 'none'})")
        config.method_settings(sections[section])
    return config


def resolve(config: TrainConfig, data: LabelledData, sentence_model: bool = True) -> tuple[TrainConfig, str]:
    """``config`` with the method chosen, its settings made whole and its `resolve` hook applied, and why."""
    name, reason = choose(config, data.counts(), sentence_model)
    method = get(name)
    return method.resolve(with_settings(config, method), data), reason
