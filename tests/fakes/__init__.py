"""Fake API servers for the submission tests, bound to 127.0.0.1 on a free port."""
