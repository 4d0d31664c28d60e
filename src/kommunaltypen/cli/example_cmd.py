"""``kommunaltypen example-data``: write the bundled reconstruction or a synthetic sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from kommunaltypen.errors import KommunaltypenError
from kommunaltypen.i18n import t


def register(app: typer.Typer) -> None:
    @app.command("example-data", help=t("reconstruct.cmd_help"))
    def example_data(
        out: Path = typer.Option(..., "--out", help=t("reconstruct.opt_out")),
        fmt: str | None = typer.Option(None, "--format", help=t("reconstruct.opt_format")),
        n: int | None = typer.Option(None, "--n", help=t("reconstruct.opt_n")),
        seed: int | None = typer.Option(None, "--seed", help=t("reconstruct.opt_seed")),
    ) -> None:
        from kommunaltypen.reconstruct import (
            intended_types,
            load_bundled,
            synthetic_sample,
            write_frame,
        )

        frame = load_bundled()
        if n is None and seed is not None:
            raise KommunaltypenError(t("reconstruct.seed_without_n", seed=seed))
        if n is not None:
            groups = np.array([g or "untyped" for g in intended_types(frame)])
            frame = synthetic_sample(frame, n, 0 if seed is None else seed, group=groups)
        chosen = (fmt or out.suffix.lstrip(".") or "csv").lower()
        path = write_frame(frame, out, chosen)
        Console().print(t("reconstruct.written", rows=frame.height, path=str(path), fmt=chosen))
