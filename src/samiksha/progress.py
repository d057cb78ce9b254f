"""Progress bars: one Rich bar on stderr for every step that takes more than a moment (labelling a file,
embedding a pool, SetFit's contrastive training), and nothing raw (no log dictionaries) on the terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _bar(description: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


@contextmanager
def progress_bar(total: int | None, description: str) -> Iterator[Callable[[int], None]]:
    """A transient bar on stderr; yields ``advance(n)``. It draws only on a terminal (Rich's own rule), so logs and
    tests stay clean."""
    bar = _bar(description)
    task = bar.add_task(description, total=total)
    with bar:
        yield lambda n: bar.advance(task, n)


def trainer_bar(description: str):
    """A `transformers.TrainerCallback` drawing a training run's steps as a Rich bar; it swallows the log
    dictionaries (``{'train_runtime': ...}``) that Trainer's own printer would show."""
    from transformers import TrainerCallback

    class RichSteps(TrainerCallback):
        def __init__(self):
            self.bar, self.task = None, None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = _bar(description)
                self.task = self.bar.add_task(description, total=state.max_steps or None)
                self.bar.start()

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.stop()
                self.bar = None

    return RichSteps()
