"""The progress bar of the long-running commands (on stderr, only on a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kommunaltypen.i18n import t


@contextmanager
def stage_progress(
    spans: Mapping[str, tuple[float, float]], messages: str, enabled: bool = True
) -> Iterator[Callable[[str, float], None]]:
    """A transient bar whose stages fill ``spans[stage] = (start, share)`` of it; yields the
    ``progress(stage, fraction)`` callback the pipelines take. The bar's text is the message
    ``<messages><stage>`` (e.g. ``validate.stage_parse``); stages not in ``spans`` are
    ignored."""
    err = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not (enabled and err.is_terminal),
    ) as bar:
        task = bar.add_task(t(f"{messages}read"), total=1.0)

        def progress(stage: str, fraction: float) -> None:
            if stage in spans:
                start, share = spans[stage]
                bar.update(
                    task, completed=start + share * fraction, description=t(f"{messages}{stage}")
                )

        yield progress
