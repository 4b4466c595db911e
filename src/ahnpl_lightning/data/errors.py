"""Errors raised for bad training data: each message names the file (or source) and says what to do.

`DataError` is what the command line reports as a plain message with exit code 1 instead of a traceback. The
subclasses keep the built-in exception types callers already catch (`FileNotFoundError`, `ValueError`).
"""

from __future__ import annotations

__all__ = ["AnnotationError", "DataError", "MissingDataError", "TrainingDataError"]


class DataError(Exception):
    """Bad input data that stops a run (the message says which file and what to do)."""


class MissingDataError(DataError, FileNotFoundError):
    """An annotation file or image folder is missing, is the wrong kind of path, or holds none of the images."""


class AnnotationError(DataError, ValueError):
    """An annotation file cannot be read at all (not valid JSON, no header, no usable rows)."""


class TrainingDataError(DataError, RuntimeError):
    """A run that would train on too little: too many samples skipped, or no optimizer step completed."""
