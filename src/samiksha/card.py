"""The model card (README.md) written into every model folder."""

from __future__ import annotations

from pathlib import PurePosixPath

from . import methods
from .metrics import interval_text

# the Hub widget's examples: written for the card, never taken from the user's data
WIDGET_EXAMPLES = ["delivery fast thi aur quality bhi badiya", "पैसे बर्बाद, मत खरीदना",
                   "Product is okay, nothing special for the price"]


def model_card(meta: dict, metrics: dict) -> str:
    """A Hugging Face style model card with the measured metrics and how to use the model."""
    names = meta["labels"]
    train, evaluation = meta["data"]["train"], meta["data"]["eval"]
    config, training = meta["config"], meta["training"]
    rows = "\n".join(f"| {n} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
                     for n, c in metrics["per_class"].items())
    examples_per_second = training.get("examples_per_second")
    speed = f", {examples_per_second:.1f} training examples/s" if examples_per_second else ""
    seeds = metrics.get("seeds")
    spread = (f"| macro-F1 over {len(seeds['runs'])} seeds | {seeds['macro_f1_mean']:.3f} ± "
              f"{seeds['macro_f1_std']:.3f} (min {seeds['macro_f1_min']:.3f}, max {seeds['macro_f1_max']:.3f}) |\n"
              if seeds else "")
    limits = (f"Small data makes single runs vary, so the training was repeated: {seeds['note']}." if seeds else
              "Scores come from one evaluation split and one seed; on small data they vary from run to run.")
    how = f"\n{metrics['how'][0].upper()}{metrics['how'][1:]}.\n" if metrics.get("how") else ""
    method = methods.get(meta["method"])
    return f"""---
{front_matter(meta, metrics)}---

# Samiksha sentiment model

Labels reviews as {', '.join(names)}. Trained with Samiksha from `{meta['base_model']}`
(method `{meta['method']}`, preset `{config['preset']}`, seed {config['seed']}).
{_distilled_note(config)}
## Evaluation

Measured on {metrics['n']} texts ({metrics['data']}) after training.{how}
| metric | value |
|---|---|
| accuracy | {interval_text(metrics, 'accuracy')} |
| macro-F1 | {interval_text(metrics, 'macro_f1')} |
| weighted-F1 | {metrics['weighted_f1']:.3f} |
{spread}
{_parts_table(metrics, method.parts)}| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

The intervals are 95% bootstrap intervals over the evaluation rows: with few rows, expect the score on new reviews
to land anywhere inside them. The confusion matrix is in `confusion_matrix.png`, the full report in `report.txt`.

## Training

- data: `{train['source']}`, {train['rows']} training texts ({', '.join(f'{k}={v}' for k, v in train['label_counts'].items())}),
  {evaluation['rows']} evaluation texts; text column `{train['text_column']}`, label column `{train['label_column']}`
- scripts of the training texts: {', '.join(f'{k}={v}' for k, v in train['script_mix'].items())};
  of the evaluation texts: {', '.join(f'{k}={v}' for k, v in evaluation['script_mix'].items())}
- epochs run: {training['epochs_run']:g}, batch size {config['batch_size']}, learning rate {config['learning_rate']:g},
  max length {config['max_length']}, class weights `{config['class_weights']}`
- wall time {training['wall_seconds']:.0f} s{speed}

## Use

{method.usage(meta)}

{method.storage(meta)}

## Limits

{limits}
The model knows only what its training data showed it.
"""


def front_matter(meta: dict, metrics: dict) -> str:
    """The card's Hub metadata (YAML, without the ``---`` lines): task, languages, tags, widget examples and a
    ``model-index`` with the scores measured on the held-out evaluation rows (for a stack, also the transformer's
    alone, which is what ``pipeline()`` runs)."""
    from huggingface_hub import EvalResult, ModelCardData

    evaluation = meta["data"]["eval"]
    if metrics.get("data") == "held-out split of train data":
        source = PurePosixPath(str(meta["data"]["train"]["source"]).replace("\\", "/")).name
        dataset = f"held-out split of {source} ({metrics['n']} reviews not trained on)"
    else:
        source = PurePosixPath(str(evaluation["source"]).replace("\\", "/")).name
        dataset = f"{source} ({metrics['n']} held-out reviews not trained on)"
    scored = [("", metrics)]
    if "transformer" in metrics.get("parts", {}):  # a blend: pipeline() runs its transformer part alone
        scored = [(", the whole model (samiksha predict)", metrics),
                  (", the transformer alone (pipeline)", metrics["parts"]["transformer"])]
    results = [EvalResult(task_type="text-classification", dataset_type=source, dataset_name=dataset,
                          dataset_split="held-out", metric_type=kind, metric_value=scores[key],
                          metric_name=f"{name} on held-out reviews{which}", metric_config=config)
               for which, scores in scored
               for kind, key, name, config in (("f1", "macro_f1", "macro-F1", "macro"),
                                               ("accuracy", "accuracy", "accuracy", None))]
    base = meta.get("base_model")
    hub_id = isinstance(base, str) and base.count("/") == 1 and not base.startswith((".", "/", "~"))
    data = ModelCardData(
        library_name="transformers" if methods.get(meta["method"]).fine_tunes else None,
        pipeline_tag="text-classification", language=["hi", "en"], base_model=base if hub_id else None,
        tags=["samiksha", "sentiment-analysis", "hinglish", "hindi", "indian-english", f"samiksha-{meta['method']}"],
        model_name=f"samiksha-{meta['method']}-sentiment", eval_results=results,
        widget=[{"text": text} for text in WIDGET_EXAMPLES])
    return data.to_yaml() + "\n"


def _distilled_note(config: dict) -> str:
    """A paragraph on the teacher, for a student written by `samiksha distill`."""
    distilled = config.get("extra", {}).get("distilled")
    if not distilled:
        return ""
    teacher_f1 = distilled.get("teacher_macro_f1")
    teacher_f1 = f", macro-F1 {teacher_f1:.3f} in its own report" if teacher_f1 is not None else ""
    return (f"\nDistilled (`samiksha distill`) from the teacher `{distilled['teacher']}` (method "
            f"`{distilled['teacher_method']}`, base `{distilled['teacher_base_model']}`{teacher_f1}): "
            f"{distilled['layers']} of its {distilled['teacher_layers']} transformer layers kept, trained on the "
            f"teacher's probabilities at temperature {distilled['temperature']:g} (true labels weigh "
            f"{distilled['hard_weight']:g}) over {distilled['labelled_texts']} labelled and "
            f"{distilled['unlabelled']['used']} unlabelled texts"
            f"{'; stacked with the teacher' + chr(39) + 's TF-IDF model' if distilled.get('parts_kept') else ''}.\n")


def _parts_table(metrics: dict, names: dict[str, str]) -> str:
    if not metrics.get("parts"):
        return ""
    rows = "\n".join(f"| {names.get(name, name)} | {interval_text(part, 'macro_f1')} | {part['accuracy']:.3f} |"
                     for name, part in metrics["parts"].items())
    return f"Each part alone and the blend, scored the same way on the same rows:\n\n| model | macro-F1 | accuracy |\n|---|---|---|\n{rows}\n\n"
