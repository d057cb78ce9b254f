"""Progress bars: one Rich bar for every step that takes more than a moment (labelling a file, embedding a pool,
fine-tuning, SetFit's contrastive training), and nothing raw (no log dictionaries) on the terminal. The labelling
page reports its training to the browser instead (`labelpage`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _bar(description: str, console=None):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console or Console(stderr=True), transient=True)


@contextmanager
def progress_bar(total: int | None, description: str) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr; yields ``advance(n)``. It draws only on a terminal (Rich's own rule), so logs and
    tests stay clean."""
    bar = _bar(description)
    task = bar.add_task(description, total=total)
    with bar:
        yield lambda n: bar.advance(task, n)


def trainer_bar(description: str, epoch_lines: bool = False):
    """A `transformers.TrainerCallback` drawing a training run's steps as a Rich bar in place of Trainer's tqdm bar
    and printer, which show raw log dictionaries (``{'train_runtime': ...}``). ``epoch_lines``: print one readable
    line per evaluated epoch and the training time, on stdout above the bar (the bar then draws on stdout too)."""
    from rich.console import Console
    from transformers import TrainerCallback

    class RichSteps(TrainerCallback):
        def __init__(self):
            self.bar, self.task, self.train_loss = None, None, None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = _bar(description, Console() if epoch_lines else None)
                self.task = self.bar.add_task(description, total=state.max_steps or None)
                self.bar.start()

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is None or not logs or not epoch_lines:
                return
            if "eval_macro_f1" in logs:
                loss = f"train loss {self.train_loss:.3f}, " if self.train_loss is not None else ""
                self.say(f"epoch {logs.get('epoch', state.epoch or 0):g}/{args.num_train_epochs:g}: {loss}eval loss "
                         f"{logs.get('eval_loss', float('nan')):.3f}, macro-F1 {logs['eval_macro_f1']:.3f}, "
                         f"accuracy {logs.get('eval_accuracy', float('nan')):.3f}")
            elif "train_runtime" in logs:
                self.say(f"trained in {logs['train_runtime']:.0f} s")
            elif "loss" in logs:
                self.train_loss = float(logs["loss"])

        def say(self, line: str) -> None:
            self.bar.console.print(line, markup=False, highlight=False, soft_wrap=True)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    return RichSteps()
