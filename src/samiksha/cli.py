"""The `samiksha` command: each command parses its options and calls one importable function."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
import unicodedata
from pathlib import Path
from typing import Annotated, Optional

import rich.cells
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import methods as registry
from .errors import SamikshaError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Fine-tune transformers to label Indian e-commerce reviews (Hinglish, Hindi, English) "
                       "as negative, neutral or positive.")
out = Console()
err = Console(stderr=True)
COLOURS = {"negative": "red", "neutral": "yellow", "positive": "green"}


def _flag_type(self, ctx):
    """Typer 0.29 labels every flag `<bool>` in --help, as if it took a value: show flags bare."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flag_type


@functools.lru_cache(maxsize=4096)
def _terminal_cell_size(character: str, unicode_version: str = "auto") -> int:
    """Rich counts spacing vowel signs (Unicode category Mc, such as Devanagari ा and ी) as 0 cells, but terminals
    give them 1 (wcwidth), so every table row holding Hindi came out too wide: count them as terminals do."""
    return 1 if unicodedata.category(character) == "Mc" else _rich_cell_size(character, unicode_version)


_rich_cell_size = rich.cells.get_character_cell_size
rich.cells.get_character_cell_size = _terminal_cell_size
rich.cells.cached_cell_len.cache_clear()


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        out.print(f"samiksha {version('samiksha')}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Show the version and exit.")] = False) -> None:
    pass


def _setup(offline: bool = False, verbose: bool = True) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    logger = logging.getLogger("samiksha")
    if not logger.handlers:
        logger.addHandler(RichHandler(console=err, show_path=False, show_time=False, markup=False))
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


def friendly_errors(command):
    """Turn a user-fixable problem into one line on stderr and exit code 1; Ctrl-C into exit code 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SamikshaError as error:
            err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted; a `train` run continues from its last checkpoint with --resume")
            raise typer.Exit(130) from None

    return wrapper


def _reviews_or_file(texts: list[str] | None, input: str | None, doing: str) -> None:
    """Refuse a command given neither reviews nor --input FILE, or both."""
    if not texts and input is None:
        raise SamikshaError(f"give reviews to {doing}, or --input FILE")
    if texts and input is not None:
        raise SamikshaError("give reviews on the command line or --input FILE, not both")


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(name: str) -> str:
    return f"[{COLOURS.get(name, 'cyan')}]{name}[/]"


def _metrics_table(metrics: dict, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("label", "precision", "recall", "F1", "support"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for name, c in metrics["per_class"].items():
        table.add_row(_label(name), f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"]))
    table.add_section()
    ci = metrics.get("ci")
    table.add_row("accuracy", "", "", f"{metrics['accuracy']:.3f}", str(metrics["n"]))
    table.add_row("macro-F1", "", "", f"{metrics['macro_f1']:.3f}", "")
    table.add_row("weighted-F1", "", "", f"{metrics['weighted_f1']:.3f}", "")
    if ci:
        table.caption = (f"{100 * ci['level']:.0f}% bootstrap intervals: macro-F1 {ci['macro_f1'][0]:.3f}-"
                         f"{ci['macro_f1'][1]:.3f}, accuracy {ci['accuracy'][0]:.3f}-{ci['accuracy'][1]:.3f} "
                         f"(another {metrics['n']} reviews could score anywhere in there)")
        table.caption_justify = "left"
    return table


def _parts_table(metrics: dict) -> Table:
    names = registry.part_names()
    table = Table(title="each part alone and the blend, on the same rows", title_justify="left")
    for column in ("model", "macro-F1", "95% interval", "accuracy"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, part in metrics["parts"].items():
        low, high = part["ci"]["macro_f1"]
        table.add_row(names.get(name, name), f"{part['macro_f1']:.3f}", f"{low:.3f}-{high:.3f}", f"{part['accuracy']:.3f}")
    return table


def _confusion_table(metrics: dict) -> Table:
    table = Table(title="confusion matrix (rows: true, columns: predicted)", title_justify="left")
    table.add_column("")
    for name in metrics["labels"]:
        table.add_column(name, justify="right")
    for name, row in zip(metrics["labels"], metrics["confusion_matrix"]):
        table.add_row(_label(name), *(str(v) for v in row))
    return table


def _mistakes_table(mistakes: list[dict]) -> Table:
    table = Table(title="most confident mistakes", title_justify="left")
    for column in ("text", "true", "predicted", "score"):
        table.add_column(column, overflow="fold")
    for m in mistakes:
        table.add_row(m["text"], _label(m["true"]), _label(m["predicted"]), f"{m['score']:.2f}")
    return table


def _show_metrics(metrics: dict, title: str, mistakes: int = 5) -> None:
    from .metrics import weakness_warning

    out.print(_metrics_table(metrics, title))
    if metrics.get("parts"):
        out.print(_parts_table(metrics))
    if metrics.get("how"):
        out.print(f"[dim]{metrics['how']}[/]", highlight=False)
    out.print(_confusion_table(metrics))
    if metrics.get("confident_mistakes") and mistakes:
        out.print(_mistakes_table(metrics["confident_mistakes"][:mistakes]))
    warning = weakness_warning(metrics)
    if warning:
        out.print(f"[bold yellow]warning:[/] {escape(warning)}", highlight=False)


# options shared by several commands
EvalData = Annotated[Optional[str], typer.Option("--eval", help="Evaluation data; default: a stratified hold-out.")]
TextColumn = Annotated[Optional[str], typer.Option(help="Text column (default: found by name).")]
LabelColumn = Annotated[Optional[str], typer.Option(help="Label column (default: found by name).")]
LabelScheme = Annotated[Optional[str], typer.Option(
    help="How numeric labels read: stars (1-2 negative, 3 neutral, 4-5 positive) or ids (0 negative, 1 neutral, "
         "2 positive); default: by the column's name and values, with a warning when both fit (only 1s and 2s).",
    show_default=False)]
Offline = Annotated[bool, typer.Option(help="Never use the network (also: HF_HUB_OFFLINE=1).")]
TrustPickle = Annotated[bool, typer.Option(
    "--trust-pickle", help="Also load an older model folder whose TF-IDF model or SetFit head is a pickle "
                           "(.joblib/.pkl), which can run code: only for folders you trust.")]
PushToHub = Annotated[Optional[str], typer.Option(
    help="Then upload the model folder to this Hugging Face Hub repository (NAME or OWNER/NAME, created if new) "
         "with its model card; needs `hf auth login` or HF_TOKEN, checked before any work starts. Pickles, "
         "checkpoints and eval.csv (your evaluation reviews) are not uploaded.", show_default=False)]
Private = Annotated[bool, typer.Option("--private", help="With --push-to-hub: create the repository private.")]
PushEvalData = Annotated[bool, typer.Option(
    "--push-eval-data", help="With --push-to-hub: upload eval.csv (the evaluation reviews and labels) as well.")]
# and by compare and curve
ComparedData = Annotated[str, typer.Argument(help="Labelled reviews (split into train and evaluation unless --eval).")]
Methods = Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(registry.names())}.")]
BaseModel = Annotated[Optional[str], typer.Option(help="Base model for the methods that use one (default: minilm).")]


def _check_push(repo: str | None, private: bool, eval_data: bool, offline: bool = False) -> None:
    """Before any work: refuse a push that cannot happen (offline, not logged in), in one line."""
    if repo is None:
        if private or eval_data:
            raise SamikshaError(f"{'--private' if private else '--push-eval-data'} needs --push-to-hub REPO")
        return
    from .hub import check_push

    out.print(f"will push to the Hub repository {repo} as {check_push(repo, offline)}", highlight=False)


def _push(folder: Path, repo: str, private: bool, eval_data: bool, method: str) -> None:
    from .hub import push_folder

    url = push_folder(folder, repo, private=private, eval_data=eval_data)
    alone = (" (the fine-tuned transformer alone; the blend needs Samiksha)"
             if len(registry.get(method).parts) > 1 else "")
    out.print(f"pushed {folder} to [bold]{url}[/]; it loads with pipeline(\"text-classification\", "
              f"model=\"{repo}\"){alone}", highlight=False)


@app.command()
@friendly_errors
def train(
    data: Annotated[str, typer.Argument(help="Labelled reviews: CSV, TSV, JSONL, Parquet, Excel or a datasets folder.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the model to.")],
    model: Annotated[Optional[str], typer.Option(help="minilm (embedded default), multilingual (embedded, reads Devanagari), a local folder, or a Hub name.")] = None,
    eval: EvalData = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_scheme: LabelScheme = None,
    epochs: Annotated[Optional[float], typer.Option(help="Epochs (default: by data size).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Training batch size (default: by data size).")] = None,
    learning_rate: Annotated[Optional[float], typer.Option(help="Peak learning rate (default: by data size).")] = None,
    max_length: Annotated[Optional[int], typer.Option(help="Truncate texts to this many tokens.")] = None,
    freeze_embeddings: Annotated[Optional[bool], typer.Option(
        "--freeze-embeddings/--train-embeddings", show_default=False,
        help="Keep the token embeddings fixed while fine-tuning (default: when they are most of the model, as in "
             "the multilingual one: 1.6x faster on a CPU).")] = None,
    normalise: Annotated[bool, typer.Option(
        help="Clean texts the same way in training and prediction (--no-normalise: feed them raw).")] = True,
    clean: Annotated[Optional[str], typer.Option(
        help="The clean-up steps, comma-separated: unicode (NFC, no zero-width joiners; the default), placeholders "
             "(@user, links), elongation (sooooo -> soo), emoji (as English words), script_view (the review also in "
             "the other script: Devanagari for Hinglish, Latin for Hindi; needs the 'script' extra).",
        show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="One seed for split, initialisation and order.")] = None,
    class_weights: Annotated[Optional[str], typer.Option(
        help="balanced, none, or name=weight pairs such as negative=2,neutral=1.5.")] = None,
    method: Annotated[Optional[str], typer.Option(help=registry.help_text(), show_default=False)] = None,
    settings: Annotated[Optional[list[str]], typer.Option(
        "--set", metavar="KEY=VALUE", show_default=False,
        help=f"A setting, repeatable: a shared one (epochs=3) or a method's, SECTION.NAME=VALUE: "
             f"{registry.settings_help()}.")] = None,
    settings_file: Annotated[Optional[Path], typer.Option(
        "--settings", metavar="FILE", show_default=False,
        help='Settings from a JSON file: shared ones at the top, a method\'s in an object named by its section '
             '({"epochs": 3, "SECTION": {"NAME": VALUE}}); --set and the other options win over it.')] = None,
    stack: Annotated[bool, typer.Option(
        help="With auto: stack the fine-tuned transformer with TF-IDF (--no-stack: the transformer alone).")] = True,
    report_seeds: Annotated[Optional[int], typer.Option(
        help="Seeds the report's macro-F1 mean and spread come from (default: 3 below 300 training texts, else 1); "
             "the model saved is the first seed's.")] = None,
    preset: Annotated[str, typer.Option(help="default, or lesson: the classic classroom recipe, exactly.")] = "default",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its last checkpoint.")] = False,
    offline: Offline = False,
    push_to_hub: PushToHub = None,
    private: Private = False,
    push_eval_data: PushEvalData = False,
    max_steps: Annotated[int, typer.Option(hidden=True)] = -1,
) -> None:
    """Train a model on labelled reviews (fine-tune, SetFit or TF-IDF) and write a model folder with its report."""
    from .config import parse_class_weights
    from .distributed import launch
    from .metrics import weakness_warning
    from .storage import refuse_overwriting_inputs
    from .train import train as run_train

    rank = launch()  # under torchrun: which process this is (one line and exit 1 when the launch is inconsistent)
    _setup(offline)
    if not rank.main:  # rank 0 speaks for all
        logging.getLogger("samiksha").setLevel(logging.ERROR)
    _check_push(push_to_hub, private, push_eval_data, offline)
    if push_to_hub:
        from .hub import method_to_push

        method = method_to_push(method, stack, push_to_hub)
    overrides: dict = {}
    if settings_file is not None:
        registry.read_settings(settings_file, overrides)
    for pair in settings or []:
        registry.parse_setting(pair, overrides)
    registry.alias(overrides, "freeze_embeddings", freeze_embeddings)
    flags = dict(
        method=method, model=model, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        max_length=max_length, seed=seed, text_column=text_column, label_column=label_column, label_scheme=label_scheme,
        class_weights=parse_class_weights(class_weights) if class_weights else None, offline=offline or None,
        max_steps=max_steps if max_steps > 0 else None, report_seeds=report_seeds,
        normalise=None if normalise else False, stack=None if stack else False,
        text_steps=[s.strip() for s in clean.split(",") if s.strip()] if clean else None)
    config = registry.preset(preset, **{**overrides, **{k: v for k, v in flags.items() if v is not None}})
    refuse_overwriting_inputs([data, eval], replaced=[output])
    result = run_train(data, output, eval_data=eval, config=config, resume=resume)
    if not rank.main:  # rank 0 reports
        return
    _show_metrics(result.metrics, f"evaluation on {result.metrics['n']} texts ({result.metrics['data']})")
    if "seeds" in result.metrics:
        seeds = result.metrics["seeds"]
        out.print(f"macro-F1 over {len(seeds['runs'])} seeds: {seeds['macro_f1_mean']:.3f} ± "
                  f"{seeds['macro_f1_std']:.3f} (min {seeds['macro_f1_min']:.3f}, max {seeds['macro_f1_max']:.3f}); "
                  f"the saved model is seed {seeds['runs'][0]['seed']}'s")
    out.print(f"model, report (report.txt), confusion_matrix.png and model card written to [bold]{output}[/]")
    if registry.get(result.meta["method"]).student(True) and not weakness_warning(result.metrics):
        out.print(f"[dim]for a model about 10x faster than a per-text pipeline(): samiksha distill {output} --output "
                  f"{output}-fast [--unlabelled YOUR_UNLABELLED_REVIEWS], then samiksha export {output}-fast[/]",
                  highlight=False)
    if push_to_hub:
        _push(output, push_to_hub, private, push_eval_data, result.meta["method"])


@app.command()
@friendly_errors
def distill(
    model_dir: Annotated[Path, typer.Argument(help="The teacher: a model folder written by `samiksha train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the student to.")],
    unlabelled: Annotated[Optional[list[str]], typer.Option(
        help="Unlabelled reviews for the teacher to label (CSV, TSV, JSONL, Parquet, Excel, .txt; repeat for more "
             "files). Evaluation rows are left out.")] = None,
    train: Annotated[Optional[str], typer.Option(
        "--train", help="The teacher's labelled training data (default: the file its folder records).")] = None,
    eval: Annotated[Optional[str], typer.Option(
        "--eval", help="Rows with true labels that choose the student's epoch (default: the teacher's eval.csv).")] = None,
    layers: Annotated[int, typer.Option(help="Transformer layers the student keeps of the teacher's.")] = 2,
    temperature: Annotated[float, typer.Option(help="Softening of the teacher's probabilities.")] = 2.0,
    hard_weight: Annotated[float, typer.Option(help="Share of the loss on true labels (the rest: the teacher's).")] = 0.5,
    max_unlabelled: Annotated[int, typer.Option(help="Use at most this many unlabelled reviews (a seeded sample).")] = 20_000,
    tfidf: Annotated[bool, typer.Option(
        help="Stack the student with a stacked teacher's TF-IDF model (--no-tfidf: the transformer alone).")] = True,
    text_column: TextColumn = None,
    epochs: Annotated[Optional[float], typer.Option(help="Epochs (default: 2).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed (default: the teacher's).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its last checkpoint.")] = False,
    trust_pickle: TrustPickle = False,
    push_to_hub: PushToHub = None,
    private: Private = False,
    push_eval_data: PushEvalData = False,
) -> None:
    """Distil a trained model (the stack included) into a smaller, faster transformer: a new model folder."""
    from .distill import distill as run_distill
    from .storage import refuse_overwriting_inputs

    _setup(push_to_hub is None)  # offline, unless it is to push
    refuse_overwriting_inputs([model_dir, *(unlabelled or []), train, eval], replaced=[output])
    _check_push(push_to_hub, private, push_eval_data)
    result = run_distill(model_dir, output, unlabelled=unlabelled or [], train_data=train, eval_data=eval,
                         layers=layers, temperature=temperature, hard_weight=hard_weight,
                         max_unlabelled=max_unlabelled, keep_tfidf=tfidf, text_column=text_column, epochs=epochs,
                         seed=seed, resume=resume, trust_pickle=trust_pickle)
    _show_metrics(result.metrics, f"the student on {result.metrics['n']} texts ({result.metrics['data']})")
    teacher_f1 = result.meta["config"]["extra"]["distilled"]["teacher_macro_f1"]
    if teacher_f1 is not None:
        out.print(f"teacher's macro-F1 in its own report: {teacher_f1:.3f}; the student's: "
                  f"{result.metrics['macro_f1']:.3f}")
    out.print(f"student written to [bold]{output}[/]; `samiksha export {output}` makes it an int8 ONNX model")
    if push_to_hub:
        _push(output, push_to_hub, private, push_eval_data, result.meta["method"])


@app.command()
@friendly_errors
def adapt(
    files: Annotated[list[str], typer.Argument(help="Unlabelled reviews: CSV, TSV, JSONL, Parquet, Excel or a "
                                                    "datasets folder (labels, if any, are not used).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the adapted encoder to.")],
    model: Annotated[Optional[str], typer.Option(help="The encoder to adapt: minilm (embedded default), "
                                                      "multilingual (the embedded e5), a local folder, or a Hub name.")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option(
        help="Evaluation or test data whose texts are left out (repeat for more files): an encoder that read them "
             "would score optimistically on them.")] = None,
    epochs: Annotated[Optional[float], typer.Option(help="Epochs over the texts (default: 1).")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per optimizer step.")] = 32,
    learning_rate: Annotated[float, typer.Option(help="Peak learning rate.")] = 5e-5,
    max_length: Annotated[int, typer.Option(help="Truncate texts to this many tokens.")] = 128,
    text_column: TextColumn = None,
    seed: Annotated[int, typer.Option(help="Seed for masking, order and the new head.")] = 42,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from its last checkpoint.")] = False,
    offline: Offline = False,
    max_steps: Annotated[int, typer.Option(hidden=True)] = -1,
) -> None:
    """Adapt an encoder to your reviews' words (masked-language-model pretraining on unlabelled text); then
    `samiksha train DATA --model OUTPUT`."""
    from .adapt import adapt as run_adapt
    from .storage import refuse_overwriting_inputs

    _setup(offline)
    refuse_overwriting_inputs([*files, *(exclude or []), model if model and Path(model).exists() else None],
                              replaced=[output])
    result = run_adapt(files, output, model=model, exclude=exclude or [], epochs=epochs, batch_size=batch_size,
                       learning_rate=learning_rate, max_length=max_length, seed=seed, text_column=text_column,
                       resume=resume, offline=offline, max_steps=max_steps)
    adapted = result.meta["adapted"]
    losses = adapted["loss_history"]
    out.print(f"adapted {adapted['base_model']} on {adapted['texts']} texts for {adapted['epochs_run']:g} epoch(s) "
              f"in {adapted['wall_seconds'] / 60:.1f} min" + (f"; masked-word loss {losses[0]:.3f} -> {losses[-1]:.3f}"
                                                                 if losses else ""), highlight=False)
    out.print(f"encoder written to [bold]{output}[/]; train on it with: samiksha train DATA --model {output} "
              "--output MODEL")


@app.command()
@friendly_errors
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train`.")],
    data: Annotated[str, typer.Argument(help="Labelled reviews to score the model on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON on stdout.")] = False,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_scheme: LabelScheme = None,
    plot: Annotated[Optional[Path], typer.Option(help="Also write the confusion matrix as a PNG here.")] = None,
    mistakes: Annotated[int, typer.Option(help="How many confident mistakes to show.")] = 5,
    trust_pickle: TrustPickle = False,
) -> None:
    """Accuracy, macro-F1, per-class report, confusion matrix and the most confident mistakes."""
    from .evaluation import evaluate as run_evaluate
    from .metrics import save_confusion_png
    from .storage import refuse_overwriting_inputs

    _setup(verbose=not as_json)
    refuse_overwriting_inputs([model_dir, data], [plot])
    metrics = run_evaluate(model_dir, data, text_column, label_column, label_scheme=label_scheme,
                           trust_pickle=trust_pickle)
    if plot is not None:  # written only where asked, never silently into the current folder
        save_confusion_png(metrics, plot, f"{model_dir.name} on {Path(data).name}")
    if as_json:
        sys.stdout.write(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        return
    _show_metrics(metrics, f"{model_dir} on {data}", mistakes)
    if plot is not None:
        out.print(f"confusion matrix PNG: {plot}")


@app.command()
@friendly_errors
def predict(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train`.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Reviews to label.")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="A file of reviews ('-' reads CSV from stdin).")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Where to write the labelled file "
                                                  "(CSV/TSV/JSONL/Parquet/XLSX by suffix; default: CSV on stdout).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --input (default: found by name).")] = None,
    backend: Annotated[str, typer.Option(help="auto (ONNX when exported), torch or onnx.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 64,
    chunk_rows: Annotated[int, typer.Option(help="Rows read and written at a time (memory stays constant); with "
                                                 "--engine ray, the rows of one actor call.")] = 10_000,
    engine: Annotated[str, typer.Option(help="local (this process) or ray: Ray Data labels --input (a file, folder, "
                                             "glob or URI) into part files in the folder --output.")] = "local",
    address: Annotated[Optional[str], typer.Option(help="Ray: the cluster to join ('auto': the running one); "
                                                        "default: start Ray on this machine.")] = None,
    workers: Annotated[int, typer.Option(help="Ray: actors in the pool, each loading the model once.")] = 1,
    cpus_per_worker: Annotated[Optional[float], typer.Option(help="Ray: CPUs (and threads) per actor (default: "
                                                             "this machine's cores / --workers; 1 on a cluster).")] = None,
    gpus_per_worker: Annotated[float, typer.Option(help="Ray: GPUs per actor (runs the PyTorch backend).")] = 0,
    output_format: Annotated[str, typer.Option(help="Ray: part files as parquet or csv.")] = "parquet",
    trust_pickle: TrustPickle = False,
) -> None:
    """Label reviews given on the command line or in a file (every original column is kept)."""
    from .predict import Classifier, predict_file

    _setup(verbose=False)
    _reviews_or_file(texts, input, "label")
    if engine not in ("local", "ray"):
        raise SamikshaError(f"unknown engine '{engine}' (choose local or ray)")
    if engine == "ray":
        from .raydata import label_files

        if texts or input == "-" or output in (None, "-"):
            raise SamikshaError("--engine ray labels files: give --input PATH_OR_GLOB and --output FOLDER")
        from .storage import refuse_overwriting_inputs

        refuse_overwriting_inputs([model_dir, input], replaced=[output])
        rows = label_files(model_dir, input, output, text_column=text_column, backend=backend, address=address,
                           workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker,
                           batch_size=batch_size, chunk_rows=chunk_rows, output_format=output_format,
                           trust_pickle=trust_pickle)
        err.print(f"labelled {rows if rows is not None else 'all'} rows on Ray Data -> {output}")
        return
    with err.status(f"loading {model_dir}"):  # seconds when PyTorch starts: a spinner on a terminal, else nothing
        classifier = Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle)
    if texts:
        proba = classifier.predict_proba(texts)
        table = Table()
        for column in ("text", "label", "score"):
            table.add_column(column, overflow="fold")
        for text, row in zip(texts, proba):
            table.add_row(Text(text), _label(classifier.labels[row.argmax()]), f"{row.max():.2f}")
        out.print(table)
        return
    from .data import count_rows  # pandas: only for a file

    with _progress(count_rows(input)) as advance:
        rows = predict_file(classifier, input, output, text_column, batch_size, chunk_rows, advance)
    if output not in (None, "-"):
        err.print(f"labelled {rows} rows with the {classifier.backend.name} backend -> {output}")


@app.command()
@friendly_errors
def explain(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train`.")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Reviews to explain.")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="A file of reviews to explain, one row "
                                                 "each.")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="With --input: write the file with label, "
                                                  "score and explanation columns added (CSV/TSV/JSONL/Parquet/XLSX "
                                                  "by suffix; default: print them).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --input (default: found by name).")] = None,
    method: Annotated[str, typer.Option(help="occlusion (every backend; the default, measured faster and more "
                                             "faithful) or gradients (Integrated Gradients, PyTorch only).")] = "occlusion",
    backend: Annotated[str, typer.Option(help="auto (ONNX when exported), torch or onnx.")] = "auto",
    max_occlusions: Annotated[Optional[int], typer.Option(help="Occlusion: model calls per text at most; longer "
                                                          "texts are occluded in runs of neighbouring words "
                                                          "(faster, coarser).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help=escape("Print a JSON list: {text, label, score, words: "
                                                                "[[word, weight], ...]} per text."))] = False,
    trust_pickle: TrustPickle = False,
) -> None:
    """Which words drove each label: every word's contribution toward the predicted label."""
    from .explain import METHODS
    from .predict import Classifier

    _setup(verbose=False)
    if method not in METHODS:
        raise SamikshaError(f"unknown explanation method '{method}' (choose from {', '.join(METHODS)})")
    if method == "gradients" and backend == "auto":
        backend = "torch"
    if max_occlusions is not None and max_occlusions < 1:
        raise SamikshaError("--max-occlusions must be at least 1")
    _reviews_or_file(texts, input, "explain")
    if output is not None and input is None:
        raise SamikshaError("--output needs --input FILE")
    with err.status(f"loading {model_dir}"):
        classifier = Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle)
    if output is not None:
        from .explain import explain_file

        rows = explain_file(classifier, input, output, text_column, method=method, max_occlusions=max_occlusions)
        err.print(f"explained {rows} reviews -> {output}")
        return
    if input is not None:
        from .data import TEXT_COLUMNS, find_column, read_table

        frame = read_table(input)
        texts = frame[find_column(frame, text_column, TEXT_COLUMNS, "text", input)].astype(str).tolist()
    explanations = classifier.explain(texts, method=method, max_occlusions=max_occlusions)
    if as_json:
        out.print_json(json.dumps([e.to_dict() for e in explanations], ensure_ascii=False))
        return
    for e in explanations:
        scale = max((abs(w) for _, w in e.words), default=0.0) or 1.0
        marked = " ".join(f"[{'bold green' if w > 0 else 'bold red'}]{escape(word)}[/]" if abs(w) >= 0.25 * scale
                          else escape(word) for word, w in e.words)
        out.print(f"{_label(e.label)} {e.score:.2f}  {marked}", highlight=False)
        out.print(f"  supports the label: {escape(', '.join(e.top(3))) or '-'}; green supports it, red speaks "
                  "against it", style="dim", highlight=False)


@app.command()
@friendly_errors
def aspects(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train` (labels each clause).")],
    texts: Annotated[Optional[list[str]], typer.Argument(help="Reviews to read.")] = None,
    input: Annotated[Optional[str], typer.Option("--input", "-i", help="A file of reviews.")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Where to write the file with an `aspects` "
                                                  "column added (CSV/TSV/JSONL/Parquet/XLSX by suffix; default: CSV "
                                                  "on stdout).")] = None,
    aspect_file: Annotated[Optional[Path], typer.Option("--aspects", help="Your own aspects, one per line: "
                                                        "'name: word, word, a phrase' (added to the defaults).")] = None,
    only_file: Annotated[bool, typer.Option("--only-file-aspects", help="Use only --aspects' aspects, "
                                                                        "not the defaults.")] = False,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --input (default: found by name).")] = None,
    backend: Annotated[str, typer.Option(help="auto (ONNX when exported), torch or onnx.")] = "auto",
    chunk_rows: Annotated[int, typer.Option(help="Rows read and written at a time.")] = 10_000,
    trust_pickle: TrustPickle = False,
) -> None:
    """What reviews are about: delivery, packaging, quality, price, seller, returns, size (or your own), each
    with its sentiment."""
    from .aspects import AspectFinder, aspect_set, aspects_file
    from .predict import Classifier

    _setup(verbose=False)
    _reviews_or_file(texts, input, "read")
    if only_file and aspect_file is None:
        raise SamikshaError("--only-file-aspects needs --aspects FILE")
    finder = AspectFinder(Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle),
                          aspect_set(aspect_file, only_file))
    if texts:
        table = Table()
        for column in ("text", "aspects"):
            table.add_column(column, overflow="fold")
        for text, found in zip(texts, finder.find(texts)):
            table.add_row(Text(text), ", ".join(f"{escape(a.aspect)} {_label(a.sentiment)}" for a in found) or "-")
        out.print(table)
        return
    rows = aspects_file(finder, input, output, text_column, chunk_rows=chunk_rows)
    if output not in (None, "-"):
        err.print(f"found the aspects of {rows} reviews -> {output}")


@app.command()
@friendly_errors
def report(
    reviews: Annotated[str, typer.Argument(help="A file of reviews (CSV/TSV/JSONL/Parquet/XLSX), with dates, "
                                                "products and star ratings where it has them.")],
    model_dir: Annotated[Path, typer.Option("--model", "-m", help="A model folder written by `samiksha train`.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The report (.html); the labelled table is written "
                                         "beside it (.csv) and the charts' PNGs in <name>_charts/.")] = Path("report.html"),
    text_column: Annotated[Optional[str], typer.Option(help="Review text column (default: found by name).")] = None,
    date_column: Annotated[Optional[str], typer.Option(help="Date column (default: found by name: date, "
                                                            "review_date, created_at, ...).")] = None,
    product_column: Annotated[Optional[str], typer.Option(help="Product column (default: found by name: product, "
                                                               "product_name, item, sku, ...).")] = None,
    rating_column: Annotated[Optional[str], typer.Option(help="Star rating column, 1-5 (default: found by name: "
                                                              "rating, stars, ...).")] = None,
    examples: Annotated[int, typer.Option(help="Example reviews per chart, explained word by word.")] = 3,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Also write a PNG of each chart, for slides.")] = True,
    aspect_file: Annotated[Optional[Path], typer.Option("--aspects", help="Your own aspects, one per line: "
                                                        "'name: word, word' (added to the defaults).")] = None,
    backend: Annotated[str, typer.Option(help="auto (ONNX when exported), torch or onnx.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 64,
    chunk_rows: Annotated[int, typer.Option(help="Rows read and labelled at a time.")] = 10_000,
    trust_pickle: TrustPickle = False,
) -> None:
    """One offline HTML report of what customers say: sentiment by period and product, aspects and what rose,
    example reviews with the words that drove their label, and star ratings against the text."""
    from .aspects import aspect_set
    from .predict import Classifier

    _setup()
    if examples < 0:
        raise SamikshaError("--examples must be 0 or more")
    classifier = Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle)
    columns = {"text": text_column, "date": date_column, "product": product_column, "rating": rating_column}
    out.print(_write_report(classifier, reviews, output, columns, examples, png, batch_size, chunk_rows,
                            aspect_set(aspect_file), model_dir.name))


def _write_report(classifier, reviews: str | Path, output: Path, columns: dict | None = None, examples: int = 3,
                  png: bool = True, batch_size: int = 64, chunk_rows: int = 10_000, aspects=None,
                  model_name: str = "") -> str:
    """Build the report with a progress bar; returns the line that says what was written where."""
    from .data import count_rows
    from .report import build_report

    with _progress(count_rows(reviews)) as advance:
        result = build_report(classifier, reviews, output, columns, examples, png, batch_size, chunk_rows, advance,
                              aspects, model_name)
    size = result.html.stat().st_size / 1e6
    pngs = f"; {len(result.pngs)} PNGs in {result.pngs[0].parent}" if result.pngs else ""
    return (f"report of {len(result.data.rows):,} reviews: [bold]{escape(str(result.html))}[/] ({size:.1f} MB, opens "
            f"offline); labelled table: {escape(str(result.csv))}{escape(pngs)}")


@contextlib.contextmanager
def _progress(total: int | None):
    """A progress bar with an ETA (`progress.progress_bar`), for files long enough to need one."""
    if total is not None and total < 500:
        yield None
        return
    from .progress import progress_bar

    with progress_bar(total, "labelling") as advance:
        yield advance


@app.command()
@friendly_errors
def export(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train`.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="A new serving folder "
                                                   "(default: add onnx/ inside MODEL_DIR).")] = None,
    quantize: Annotated[str, typer.Option(help="int8 (kept only if macro-F1 drops <= 1 point) or none.")] = "int8",
    eval: Annotated[Optional[str], typer.Option("--eval", help="Data for the int8 gate (default: the model's eval.csv).")] = None,
    force: Annotated[bool, typer.Option(help="Keep int8 even if it fails the macro-F1 gate.")] = False,
    trust_pickle: TrustPickle = False,
    push_to_hub: PushToHub = None,
    private: Private = False,
    push_eval_data: PushEvalData = False,
) -> None:
    """Export to ONNX (checked against PyTorch) and quantize to int8 when it keeps its macro-F1."""
    from .export import export_onnx
    from .storage import refuse_overwriting_inputs

    _setup()
    refuse_overwriting_inputs([model_dir, eval], replaced=[output])
    if push_to_hub and output is not None:
        raise SamikshaError("--push-to-hub pushes MODEL_DIR with its new onnx/ folder: leave --output out (a serving "
                            "folder has no PyTorch weights, so pipeline() could not load it from the Hub)")
    _check_push(push_to_hub, private, push_eval_data)
    report = export_onnx(model_dir, output, quantize, eval, force, trust_pickle=trust_pickle)
    table = Table(title="ONNX export", title_justify="left")
    table.add_column("graph")
    table.add_column("size MB", justify="right")
    table.add_column("check")
    fp32 = report["fp32"]
    table.add_row("fp32", f"{fp32['size_bytes'] / 1e6:.1f}", f"max |logit diff| {fp32['max_abs_logit_diff']:.1e}, "
                  f"argmax agreement {fp32['argmax_agreement']:.3f}")
    if "int8" in report:
        int8 = report["int8"]
        verdict = "[green]accepted[/]" if int8["accepted"] else "[red]refused[/]"
        table.add_row("int8", f"{int8['size_bytes'] / 1e6:.1f}", f"{verdict}: {int8['reason']}")
    out.print(table)
    out.print(f"predictions now use ONNX ({report['preferred']}) from {output or model_dir}")
    if push_to_hub:
        from .modelfolder import ModelFolder

        method = registry.for_folder(ModelFolder(model_dir).read_meta()).name
        _push(model_dir, push_to_hub, private, push_eval_data, method)


@app.command()
@friendly_errors
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo model.")] = Path("samiksha-demo-model"),
    epochs: Annotated[Optional[float], typer.Option(help="Epochs (default: by data size).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    report: Annotated[Path, typer.Option(help="Where to write the report on the demo shop's reviews (.html; its "
                                              "labelled .csv beside it).")] = Path("samiksha-demo-report.html"),
) -> None:
    """Train on the bundled demo reviews with the embedded model, evaluate, label new reviews, and write a report
    on a year of a demo shop's reviews."""
    from .demo import demo_data_dir, run_demo
    from .predict import Classifier

    _setup(offline=True)
    if report.suffix.lower() not in (".html", ".htm"):  # refused before minutes of training, not after
        raise SamikshaError(f"{report}: the report is an HTML file; name it with .html")
    result, test_metrics, predictions = run_demo(output, epochs, seed)
    _show_metrics(test_metrics, f"demo test set ({test_metrics['n']} reviews never seen in training)")
    table = Table(title="new reviews", title_justify="left")
    for column in ("review", "label", "score"):
        table.add_column(column, overflow="fold")
    for text, label, score in predictions:
        table.add_row(text, _label(label), f"{score:.2f}")
    out.print(table)
    seconds = result.meta["training"]["wall_seconds"]
    out.print(f"trained in {seconds:.0f} s; model written to [bold]{output}[/]; "
              f"try: samiksha predict {output} \"kal hi mila, ekdum first class\"")
    shop = demo_data_dir() / "shop.csv"
    out.print(_write_report(Classifier.load(output), shop, report, model_name=output.name))
    out.print(f"open {report} in a browser: a year of a demo shop's reviews ({shop.name}), by month and product")


AllowHost = Annotated[Optional[list[str]], typer.Option(
    help="Also answer requests for this host name (repeatable; '*' for any). Loopback names are allowed when "
         "listening on 127.0.0.1; on 0.0.0.0 name every host clients use.")]


@app.command()
@friendly_errors
def serve(
    model_dir: Annotated[Path, typer.Argument(help="A model folder written by `samiksha train`.")],
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    api_key: Annotated[Optional[str], typer.Option(envvar="SAMIKSHA_API_KEY", show_default=False,
                                                   help="Require this key in the X-API-Key header of /v1/*.")] = None,
    backend: Annotated[str, typer.Option(help="auto (ONNX when exported), torch or onnx.")] = "auto",
    max_texts: Annotated[int, typer.Option(help="Texts per /v1/predict request.")] = 1000,
    max_text_chars: Annotated[int, typer.Option(help="Longer texts are cut to this many characters.")] = 5000,
    max_upload_mb: Annotated[float, typer.Option(help="Largest file /v1/predict/file accepts, in MB.")] = 10.0,
    max_rows: Annotated[int, typer.Option(help="Rows /v1/predict/file labels per file (counted as it is "
                                               "decoded; more get HTTP 413).")] = 100_000,
    max_batch: Annotated[int, typer.Option(help="Texts per model call, shared by concurrent requests.")] = 64,
    aspect_file: Annotated[Optional[Path], typer.Option("--aspects", help="Your own aspects for /v1/aspects, "
                                                        "one per line: 'name: word, word' (added to the defaults).")] = None,
    only_file: Annotated[bool, typer.Option("--only-file-aspects", help="Only --aspects' aspects.")] = False,
    threads: Annotated[Optional[int], typer.Option(
        help="PyTorch threads for the model (default: one per CPU; fastest on a quiet 2-core machine).")] = None,
    trust_pickle: TrustPickle = False,
    allow_host: AllowHost = None,
    labels_db: Annotated[Optional[Path], typer.Option(help="Where the page's corrections are kept for the next "
                                                      "training (default: MODEL_DIR's name + .labels.sqlite beside it; "
                                                      "for POOL.model, trained by `samiksha label POOL`, that is the "
                                                      "page's own POOL.labels.sqlite).")] = None,
    no_labels: Annotated[bool, typer.Option("--no-labels", help="Keep no corrections (the page cannot send any).")
                         ] = False,
) -> None:
    """Serve a model: a JSON API (docs at /docs) and a web page at / to predict reviews in a browser."""
    from .labelstore import default_db
    from .serve import create_app
    from .web import allowed_hosts, run_server

    _setup()
    if api_key is None and os.environ.get("SAMIKSHA_API_KEY") == "":
        api_key = ""  # click reads an empty variable as unset; create_app refuses it instead of serving keyless
    allowed_hosts(host, allow_host or ())  # refuse a bad --host/--allow-host before loading the model
    application = create_app(model_dir, api_key=api_key, max_texts=max_texts, max_text_chars=max_text_chars,
                             max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_rows=max_rows, backend=backend,
                             max_batch=max_batch, threads=threads or os.cpu_count() or 1, aspect_file=aspect_file,
                             only_file_aspects=only_file, trust_pickle=trust_pickle,
                             labels_db=None if no_labels else labels_db or default_db(model_dir))
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        err.print(f"[yellow]warning:[/] listening on {host} without --api-key: anyone who can reach it can use it")
    store = application.state.label_store
    kept = f" (corrections kept in {store.path})" if store is not None else ""
    run_server(application, host, port, allow_hosts=allow_host or (), stop=application.state.batcher.stop,
               ready=lambda url: err.print(f"serving {model_dir} on {url} (API docs: /docs){kept}; Ctrl-C stops",
                                           soft_wrap=True))


WriteFormat = Annotated[str, typer.Option(
    "--format", help="table (by the output's suffix) or label-studio (Label Studio's task JSON: Samiksha's guesses "
                     "as predictions, labels as annotations).")]


@app.command()
@friendly_errors
def suggest(
    pool: Annotated[str, typer.Argument(help="Unlabelled reviews: CSV, TSV, JSONL, Parquet, Excel, a datasets folder "
                                              "or .txt (one review per line).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Where to write the picked rows (format by suffix).")],
    n: Annotated[int, typer.Option("-n", help="How many reviews to pick.")] = 50,
    labelled: Annotated[Optional[str], typer.Option(help="Reviews labelled so far (skipped; they also train a "
                                                     "quick model when no --model is given).")] = None,
    model: Annotated[Optional[Path], typer.Option(help="A model folder whose uncertainty picks the reviews.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of POOL (default: found by name).")] = None,
    labelled_text_column: Annotated[Optional[str], typer.Option(help="Text column of --labelled (default: POOL's, "
                                                                "if it has one of that name, else found by name).")] = None,
    encoder: Annotated[Optional[str], typer.Option(help="Sentence encoder: multilingual (default) or minilm.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the clustering and the random picks.")] = 0,
    strategy: Annotated[str, typer.Option(help="Once there is a model: mix (half at random, half the least sure; "
                                               "the default), entropy (the least sure only) or cluster-margin "
                                               "(small margins spread over clusters of the pool).")] = "mix",
    trust_pickle: TrustPickle = False,
    format: WriteFormat = "table",
) -> None:
    """Pick the reviews worth labelling next: cover the pool at first, then half at random and half the ones the
    model is least sure of."""
    from . import labeltools
    from .storage import refuse_overwriting_inputs
    from .suggest import STRATEGIES
    from .suggest import suggest as run_suggest

    if strategy not in STRATEGIES:
        raise SamikshaError(f"unknown strategy '{strategy}' (choose {', '.join(STRATEGIES)})")
    _setup(offline=True)
    labeltools.check_format(format, output)
    refuse_overwriting_inputs([pool, labelled, model], [output])
    picked = run_suggest(pool, n, labelled=labelled, model_dir=model, text_column=text_column,
                         labelled_text_column=labelled_text_column, encoder=encoder, seed=seed,
                         trust_pickle=trust_pickle, strategy=strategy)
    labeltools.write(picked, output, format, text_column=picked.attrs["text_column"], guess="guess",
                      score="guess_score", model_version=str(model or "samiksha-suggest"))
    shown = "" if len(picked) <= 10 else " (first 10)"
    table = Table(title=f"{len(picked)} reviews to label next{shown}", title_justify="left")
    for column in ("review", "guess", "why"):
        table.add_column(column, overflow="fold")
    text_col = picked.attrs["text_column"]
    for _, row in picked.head(10).iterrows():
        table.add_row(_short(str(row[text_col])), _label(row["guess"]) if row["guess"] else "", row["reason"])
    out.print(table)
    out.print(f"written to [bold]{output}[/]; label them (add a label column) and pass the file as --labelled next time")


@app.command()
@friendly_errors
def audit(
    data: Annotated[str, typer.Argument(help="Labelled reviews to check.")],
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Where to write the full ranking.")] = None,
    top: Annotated[int, typer.Option(help="How many of the likeliest mistakes to show.")] = 15,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_scheme: LabelScheme = None,
    encoder: Annotated[Optional[str], typer.Option(help="Sentence encoder: multilingual (default) or minilm.")] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds (each row is scored by a model that never saw it).")] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the folds.")] = 0,
    format: WriteFormat = "table",
) -> None:
    """Find labels that are likely wrong (out-of-fold probabilities ranked by cleanlab); every input column is kept
    in the ranking written."""
    from . import labeltools
    from .audit import audit as run_audit
    from .storage import refuse_overwriting_inputs

    _setup(offline=True)
    if output or format != "table":
        labeltools.check_format(format, output)
    refuse_overwriting_inputs([data], [output])
    ranking = run_audit(data, text_column=text_column, label_column=label_column, encoder=encoder, folds=folds,
                        seed=seed, label_scheme=label_scheme)
    if output:
        labeltools.write(ranking, output, format, label="label", annotator="annotator", labelled_at="labelled_at",
                          guess="suggested", score="confidence", model_version="samiksha-audit")
    flagged = int(ranking["flagged"].sum())
    table = Table(title=f"likeliest label mistakes: {flagged} of {len(ranking)} rows flagged", title_justify="left")
    for column in ("row", "text", "given", "suggested", "confidence"):
        table.add_column(column, overflow="fold", justify="right" if column in ("row", "confidence") else "left")
    for _, row in ranking.head(top).iterrows():
        table.add_row(str(row["row"]), _short(row["text"]), _label(row["label"]), _label(row["suggested"]),
                      f"{row['confidence']:.2f}")
    out.print(table)
    judged = ranking.attrs["skill"]
    if not judged.better_than_chance:
        out.print(f"[bold yellow]warning:[/] the ranking is noise so far: a quick model is no better than chance on "
                  f"these labels ({judged.describe()}); label more, or check the label column", highlight=False)
    if output:
        out.print(f"full ranking written to [bold]{output}[/]")


@app.command()
@friendly_errors
def label(
    pool: Annotated[str, typer.Argument(help="Reviews to label: CSV, TSV, JSONL, Parquet, Excel, a datasets folder "
                                              "or .txt (one review per line).")],
    db: Annotated[Optional[Path], typer.Option(help="The labels database (default: POOL's name + .labels.sqlite, "
                                               "beside it).")] = None,
    labels_out: Annotated[Optional[str], typer.Option(help="Keep this file (CSV/JSONL/Parquet) up to date with every "
                                                      "label: a `samiksha train` input.")] = None,
    export: Annotated[Optional[str], typer.Option(help="Write the labels so far to this file and exit.")] = None,
    import_: Annotated[Optional[str], typer.Option(
        "--import", help="Add the labels of this file (a Label Studio or Argilla export, or any labelled table; "
                         "its annotator and labelled_at columns kept) to the labels database and exit.")] = None,
    model: Annotated[Optional[Path], typer.Option(help="A trained model to guess and rank with (default: the one "
                                                  "'train now' wrote, if any).")] = None,
    output: Annotated[Optional[Path], typer.Option(help="Where 'train now' writes its model (default: POOL's name "
                                                   "+ .model, beside it).")] = None,
    base_model: Annotated[Optional[str], typer.Option(help="Base model for 'train now' (default: chosen by data, "
                                                      "as `samiksha train` does).")] = None,
    target: Annotated[int, typer.Option(help="How many labels the progress bar counts toward.")] = 300,
    text_column: TextColumn = None,
    encoder: Annotated[Optional[str], typer.Option(help="Sentence encoder: multilingual (default) or minilm.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 serves this machine only.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    trust_pickle: TrustPickle = False,
    max_rows: Annotated[int, typer.Option(help="Largest pool the page takes, in rows (each is embedded and "
                                               "ranked).")] = 100_000,
    allow_host: AllowHost = None,
    format: Annotated[str, typer.Option(
        "--format", help="Of --export: table (by its suffix) or label-studio (Label Studio's task JSON, the labels "
                         "as annotations).")] = "table",
) -> None:
    """Label reviews in a browser, one at a time in suggested order; every label is saved at once."""
    from .storage import refuse_overwriting_inputs

    _setup(offline=True)
    refuse_overwriting_inputs([pool], [export, labels_out, db], replaced=[output])
    if import_:
        from .labelstore import LabelStore, default_db
        from .suggest import read_pool

        store = LabelStore(db or default_db(pool), read_pool(pool, text_column))
        out.print(f"{store.import_labels(import_)} labels from {import_} added to [bold]{store.path}[/]")
        return
    if export or format != "table":
        from . import labeltools
        from .labelstore import LabelStore, default_db
        from .suggest import read_pool

        labeltools.check_format(format, export)
        rows = LabelStore(db or default_db(pool), read_pool(pool, text_column)).export(export, format)
        out.print(f"{rows} labelled reviews written to [bold]{export}[/]")
        return
    from .labelpage import create_label_app
    from .web import allowed_hosts, run_server

    allowed_hosts(host, allow_host or ())  # refuse a bad --host/--allow-host before reading the pool
    application = create_label_app(pool, db=db, labels_out=labels_out, model_dir=model, output=output,
                                   base_model=base_model, target=target, encoder=encoder, text_column=text_column,
                                   max_rows=max_rows, trust_pickle=trust_pickle)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can change the labels")
    store = application.state.session.store.path
    run_server(application, host, port, allow_hosts=allow_host or (), stop=application.state.session.stop,
               ready=lambda url: err.print(f"labelling {pool} on {url} (labels saved in {store}); Ctrl-C stops",
                                           soft_wrap=True))


def _leaderboard_table(result: dict) -> Table:
    names = result["labels"]
    table = Table(title=f"leaderboard: {len(result['seeds'])} seed(s) per method, evaluated on "
                        f"{result['eval']['rows']} texts", title_justify="left")
    for column in ("method", "macro-F1", "± std", "accuracy", *(f"F1 {n}" for n in names), "train s", "texts/s"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method in result["ranking"]:
        row = result["methods"][method]
        table.add_row(method, f"{row['macro_f1_mean']:.3f}", f"{row['macro_f1_std']:.3f}", f"{row['accuracy_mean']:.3f}",
                      *(f"{row['per_class_f1_mean'][n]:.3f}" for n in names), f"{row['train_seconds_mean']:.1f}",
                      f"{row['texts_per_second_mean']:.0f}")
    return table


def _comparison_config(model: str | None, text_column: str | None, label_column: str | None,
                       label_scheme: str | None, seed: int | None, offline: bool):
    """The TrainConfig that compare and curve start every method from."""
    _setup(offline)
    return registry.preset(model=model, text_column=text_column, label_column=label_column,
                           label_scheme=label_scheme, seed=seed, offline=offline or None)


@app.command()
@friendly_errors
def compare(
    data: ComparedData,
    eval: EvalData = None,
    methods: Methods = ",".join(registry.compared()),
    seeds: Annotated[int, typer.Option(help="Seeds per method; the split stays the same.")] = 3,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for leaderboard.md, .json and .png.")] = Path(
        "samiksha-compare"),
    model: BaseModel = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_scheme: LabelScheme = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the split and the first run.")] = None,
    offline: Offline = False,
) -> None:
    """Train each method with several seeds on the same split and rank them by macro-F1."""
    from .compare import compare as run_compare
    from .storage import refuse_overwriting_inputs

    refuse_overwriting_inputs([data, eval], [output / f"leaderboard.{suffix}" for suffix in ("json", "md", "png")])
    config = _comparison_config(model, text_column, label_column, label_scheme, seed, offline)
    result = run_compare(data, eval, methods=methods.split(","), seeds=seeds, output=output, config=config)
    out.print(_leaderboard_table(result))
    out.print(f"leaderboard.md, leaderboard.json and leaderboard.png written to [bold]{output}[/]")


@app.command()
@friendly_errors
def curve(
    data: ComparedData,
    eval: EvalData = None,
    sizes: Annotated[str, typer.Option(help="Labelled examples per class to try; 'all' for every text.")] = (
        "8,16,32,64,128"),
    methods: Methods = ",".join(registry.compared()),
    seeds: Annotated[int, typer.Option(help="Seeds (each its own sample of the training data) per point.")] = 3,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for curve.md, .json and .png.")] = Path(
        "samiksha-curve"),
    model: BaseModel = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = None,
    label_scheme: LabelScheme = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the split and the first sample.")] = None,
    offline: Offline = False,
) -> None:
    """Macro-F1 against labelled examples per class for each method: how many labels are worth collecting."""
    from .compare import curve_table, learning_curve, parse_sizes
    from .storage import refuse_overwriting_inputs

    refuse_overwriting_inputs([data, eval], [output / f"curve.{suffix}" for suffix in ("json", "md", "png")])
    config = _comparison_config(model, text_column, label_column, label_scheme, seed, offline)
    result = learning_curve(data, eval, sizes=parse_sizes(sizes), methods=methods.split(","), seeds=seeds,
                            output=output, config=config)
    table = Table(title=f"macro-F1 (mean ± std over {len(result['seeds'])} seed(s)) on {result['eval']['rows']} "
                        "evaluation texts", title_justify="left")
    for column in ("per class", "texts", *result["methods"], "best", "auto picks"):
        table.add_column(column, justify="left" if column in ("best", "auto picks") else "right")
    for row in curve_table(result):
        table.add_row(str(row["size"]), str(row["texts"]),
                      *(f"{row['scores'][m][0]:.3f} ± {row['scores'][m][1]:.3f}" for m in result["methods"]),
                      row["best"], row["auto"])
    out.print(table)
    out.print(f"curve.md, curve.json and curve.png written to [bold]{output}[/]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
