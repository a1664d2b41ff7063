"""What every command shares: settings, a container for the command's duration, input files, progress,
import summaries."""

from __future__ import annotations

import contextlib
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from app.settings import Settings, SettingsError

if TYPE_CHECKING:
    from app.container import Container
    from services.imports import ImportReport


def settings() -> Settings:
    try:
        return Settings.load()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


def open_input(path: str) -> IO[str]:
    """A text stream of FILE (``-`` for stdin; ``.gz`` files are decompressed)."""
    if path == "-":
        return sys.stdin
    _check_file(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def open_binary(path: str) -> IO[bytes]:
    """A binary stream of FILE (as ``open_input``)."""
    if path == "-":
        return sys.stdin.buffer
    _check_file(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _check_file(path: str) -> None:
    if not Path(path).is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="FILE")


@contextlib.contextmanager
def container(settings: Settings, role: str = "server") -> Iterator[Container]:
    """Storage and services for a command: MONGODB_URI, the running embedded server's mongod, or
    a private embedded mongod for the duration of the command."""
    from app.container import build_container
    from runtime.embedded_mongo import EmbeddedMongoError, mongo_uri
    from services.errors import StoreUnavailable

    try:
        with mongo_uri(settings.mongodb_uri, settings.data_dir) as uri:
            container = build_container(settings.replace(mongodb_uri=uri), role)
            try:
                yield container
            finally:
                container.close()
    except EmbeddedMongoError as exc:
        raise click.ClickException(str(exc)) from exc
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc.message} ({settings.mongodb_uri or 'embedded'})") from exc


def progress(desc: str, total: int | None = None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=" docs", file=sys.stderr, disable=None, dynamic_ncols=True)


def report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        written = ", ".join(f"{n} {kind}" for kind, n in sorted(report.written.items())) or "nothing"
        click.echo(f"read {report.read} documents, wrote {written}, {len(report.errors)} rejected")
        if report.replaced is not None:
            taken = ", ".join(f"{n} {kind}" for kind, n in sorted(report.replaced.items()))
            click.echo(f"replaced: not in the file, so retired or removed: {taken}")
    for error in report.errors[:50]:
        click.echo(f"  line {error.line}: {error.message}", err=True)
    if len(report.errors) > 50:
        click.echo(f"  ... and {len(report.errors) - 50} more", err=True)


def exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)
