"""Append-only, keyed hash-chained audit log."""
