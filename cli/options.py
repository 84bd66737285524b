"""What every `regkb` command shares: ``--data-dir``, accepted before the command and after it.

``regkb --data-dir X search …`` and ``regkb search … --data-dir X`` mean the same; given in both places, the one
after the command wins. Without it the settings decide (``REGKB_DATA_DIR``, default ``./var``). The value is kept
here, in one module object that ``cli.main`` and ``cli.answers`` both import (``cli.main`` may itself run as
``__main__`` under ``python -m cli.main``, so it cannot hold it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


class _Given:
    data_dir: Path | None = None


_given = _Given()


def _remember(value: Optional[Path]) -> Optional[Path]:
    if value is not None:
        _given.data_dir = value
    return value


HELP = "Where the corpus and index live (default: REGKB_DATA_DIR, else ./var); before or after the command."

# The root command's option: its value starts every run (``start``), so a second run in one process starts afresh.
RootDataDirOption = Annotated[Optional[Path], typer.Option("--data-dir", help=HELP)]

# Declared by every subcommand as ``data_dir: DataDirOption = None``. The option's callback records it, and
# ``expose_value=False`` keeps it out of the command's arguments: commands read ``chosen_data_dir()`` instead.
DataDirOption = Annotated[Optional[Path], typer.Option("--data-dir", callback=_remember, expose_value=False,
                                                       help=HELP)]


def start(given: Optional[Path]) -> None:
    """The root command's ``--data-dir`` (None when not given), at the start of every run."""
    _given.data_dir = given


def chosen_data_dir() -> Path:
    """The data directory this run works on: ``--data-dir`` if given, else the settings'."""
    if _given.data_dir is not None:
        return _given.data_dir
    from api.settings import get_settings

    return get_settings().data_dir
