"""Semantics: names, types, the DAG, and the IR that backends read."""
