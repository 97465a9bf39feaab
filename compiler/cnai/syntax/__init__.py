"""The front end: grammar, parser, AST."""

from cnai.syntax.parser import parse

__all__ = ["parse"]
