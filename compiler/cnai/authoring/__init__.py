"""Authoring tools: graph, fmt, SARIF, explain and the language server."""
