"""Run the real ``kommunaltypen`` entry point in-process and capture what a user sees."""

from kommunaltypen import cli


def run_cli(capsys, *args: str, fold_err: bool = True) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); stderr with white space folded unless ``fold_err=False``
    (rich wraps long messages at the terminal width)."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    err = " ".join(captured.err.split()) if fold_err else captured.err
    return code, captured.out, err
