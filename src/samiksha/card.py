"""The model card (README.md) written into every model folder."""

from __future__ import annotations


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
    return f"""---
library_name: transformers
pipeline_tag: text-classification
base_model: {meta['base_model']}
tags: [samiksha, sentiment-analysis, hinglish, hindi, indian-english]
---

# Samiksha sentiment model

Labels reviews as {', '.join(names)}. Trained with Samiksha from `{meta['base_model']}`
(method `{meta['method']}`, preset `{config['preset']}`, seed {config['seed']}).

## Evaluation

Measured on {metrics['n']} texts ({metrics['data']}) after training.

| metric | value |
|---|---|
| accuracy | {metrics['accuracy']:.3f} |
| macro-F1 | {metrics['macro_f1']:.3f} |
| weighted-F1 | {metrics['weighted_f1']:.3f} |
{spread}
| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

The confusion matrix is in `confusion_matrix.png`, the full report in `report.txt`.

## Training

- data: `{train['source']}`, {train['rows']} training texts ({', '.join(f'{k}={v}' for k, v in train['label_counts'].items())}),
  {evaluation['rows']} evaluation texts; text column `{train['text_column']}`, label column `{train['label_column']}`
- scripts of the training texts: {', '.join(f'{k}={v}' for k, v in train['script_mix'].items())};
  of the evaluation texts: {', '.join(f'{k}={v}' for k, v in evaluation['script_mix'].items())}
- epochs run: {training['epochs_run']:g}, batch size {config['batch_size']}, learning rate {config['learning_rate']:g},
  max length {config['max_length']}, class weights `{config['class_weights']}`
- wall time {training['wall_seconds']:.0f} s{speed}

## Use

{_usage(meta['method'])}
{_normalisation_note(config) if meta['method'] == 'finetune' else ''}
## Limits

{limits}
The model knows only what its training data showed it.
"""


def _usage(method: str) -> str:
    python = ('from samiksha import Classifier\nclassify = Classifier.load("PATH/TO/THIS/FOLDER")\n'
              'classify.predict(["delivery fast thi aur quality bhi badiya"])' if method in ("tfidf", "setfit", "ensemble") else
              'from transformers import pipeline\nclassify = pipeline("text-classification", model="PATH/TO/THIS/FOLDER")\n'
              'classify("delivery fast thi aur quality bhi badiya")')
    return f"```python\n{python}\n```\n\nor `samiksha predict PATH/TO/THIS/FOLDER \"your review\"`."


def _normalisation_note(config: dict) -> str:
    if not config.get("normalise"):
        return ""
    return ("\nSamiksha feeds the model Unicode-NFC text without zero-width joiners (`samiksha.scripts.normalise_indic`); "
            "do the same before a plain `pipeline()` so that Devanagari is read as in training.\n")
