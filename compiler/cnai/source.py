"""Source text and positions: every AST node and diagnostic carries a full 1-based span."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Span:
    """A half-open range of a source file, with 1-based line/column of both ends.

    ``end_col`` is the column just past the last character, so a one-character span at
    column 5 has ``col=5, end_col=6``.
    """

    file: str
    start: int
    end: int
    line: int
    col: int
    end_line: int
    end_col: int

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.start, self.end)


@dataclass
class SourceFile:
    """One source file's text and the offsets of its lines."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._line_starts = starts

    @classmethod
    def read(cls, path: str | Path) -> SourceFile:
        """Read a file as UTF-8; raises UnicodeDecodeError / OSError for the caller to report."""
        data = Path(path).read_bytes()
        return cls(str(path), data.decode("utf-8"))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count code points."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        end = max(start, end)
        line, col = self.line_col(start)
        end_line, end_col = self.line_col(end)
        return Span(self.path, start, end, line, col, end_line, end_col)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]

    @property
    def line_count(self) -> int:
        return len(self._line_starts)
