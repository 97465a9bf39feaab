"""Reading a step's log: only its end, so that memory does not grow with the log's size.

A step can write gigabytes; what the summary shows is its last lines. The reader seeks to
``TAIL_BYTES`` before the end and keeps the last lines of that window.
"""

from __future__ import annotations

import os
from pathlib import Path

TAIL_BYTES = 64 * 1024
TAIL_LINES = 8


def tail_lines(path: Path, lines: int = TAIL_LINES, budget: int = TAIL_BYTES) -> list[str]:
    """The last ``lines`` lines of the last ``budget`` bytes of ``path`` ([] if unreadable).

    The window's first line is dropped when it starts before the window; a last line longer
    than the window is shown cut at its start.
    """
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - budget - 1)  # one byte more: is the window's start a line's?
            handle.seek(start)
            data = handle.read(budget + 1)
    except OSError:
        return []
    if start > 0:
        cut = data.find(b"\n")
        data = data[cut + 1:] if 0 <= cut < len(data) - 1 else data[1:]
    text = data.decode("utf-8", errors="replace").splitlines()
    return text[-lines:] if lines > 0 else []
