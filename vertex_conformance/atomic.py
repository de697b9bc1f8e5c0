"""Writing a file so that a reader, or a run killed half-way, sees the old file or the new one.

Cassettes, reports and the matrix page are read by CI steps and by people while runs write them;
a truncated file there reads as a broken recording or a failed run. So every file the harness
writes goes through ``write_text``: a temporary file in the same directory (``os.replace`` is
atomic only within one file system), flushed and fsynced before the rename, then the directory
fsynced so the rename itself survives a crash where the platform allows it.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

MODE = 0o644  # mkstemp makes 0600; what we write are ordinary repository files and CI artifacts


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path``, creating its directory; atomic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, MODE)
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    with suppress(OSError):  # not every platform can open (or fsync) a directory
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
