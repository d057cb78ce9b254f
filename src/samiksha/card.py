"""The model card (README.md) written into every model folder."""

from __future__ import annotations

from . import methods
from .metrics import interval_text


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
library_name: transformers
pipeline_tag: text-classification
base_model: {meta['base_model']}
tags: [samiksha, sentiment-analysis, hinglish, hindi, indian-english]
---

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
