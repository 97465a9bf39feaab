"""Source text and positions: every AST node and diagnostic carries a full 1-based span."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any


class SourceFile:
    """One source file's text and the offsets of its lines."""

    __slots__ = ("_line_starts", "path", "text")

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self._line_starts = starts

    @classmethod
    def read(cls, path: str | Path) -> SourceFile:
        """Read a file as UTF-8; raises UnicodeDecodeError / OSError for the caller to report."""
        return cls(str(path), Path(path).read_bytes().decode("utf-8"))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset; columns count code points."""
        offset = max(0, min(offset, len(self.text)))
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, max(start, end))

    def offset(self, line: int, column: int) -> int:
        """The character offset of a 1-based line (clamped to the file's) and a 0-based
        column counted in code points (clamped to the end of the text)."""
        line = min(max(line, 1), len(self._line_starts))
        return min(self._line_starts[line - 1] + column, len(self.text))

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


class Span:
    """A half-open range ``[start, end)`` of a source file, with 1-based line/column of both
    ends (``end_col`` is just past the last character). Lines and columns are computed when
    asked for, not kept: a 10,000-step parse makes 400,000 spans, and only diagnostics read
    their lines. It keeps its length, not its end: most spans are shorter than 257
    characters, a length Python does not allocate (small ints are shared), while each end
    offset past 256 is an int object of its own."""

    __slots__ = ("length", "source", "start")

    def __init__(self, source: SourceFile, start: int, end: int) -> None:
        self.source = source
        self.start = start
        self.length = end - start

    @property
    def end(self) -> int:
        return self.start + self.length

    @property
    def file(self) -> str:
        return self.source.path

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def end_line(self) -> int:
        return self.source.line_col(self.end)[0]

    @property
    def end_col(self) -> int:
        return self.source.line_col(self.end)[1]

    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.start, self.end)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "col": self.col,
                "end_line": self.end_line, "end_col": self.end_col}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Span) and self.sort_key() == other.sort_key()

    def __hash__(self) -> int:
        return hash(self.sort_key())

    def __repr__(self) -> str:
        return f"Span({self.file}:{self.line}:{self.col}-{self.end_line}:{self.end_col})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source_type: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.is_instance_schema(
            cls, serialization=core_schema.plain_serializer_function_ser_schema(cls.to_dict))
