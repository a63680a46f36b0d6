"""The ``--torch-threads`` option the benchmarks share.

It sets ``REPORTS_QA_TORCH_THREADS`` rather than calling ``torch.set_num_threads`` itself, so
every ``Embedder.load`` (which applies the setting), and every asker process a bench spawns,
uses the same count.
"""

from __future__ import annotations

import argparse
import os

HELP = ("torch threads for the embedding model: N or 'auto' (torch's default, one per core); "
        "default: REPORTS_QA_TORCH_THREADS, else the setting's default")


def threads_arg(text: str) -> str:
    """argparse type: a positive int or 'auto', kept as the setting's string."""
    value = text.strip().lower()
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise argparse.ArgumentTypeError(f"{text!r} is not a thread count (a positive integer or 'auto')")


def use_torch_threads(value: str | None) -> None:
    """Make ``value`` this process's (and its children's) REPORTS_QA_TORCH_THREADS; None keeps it."""
    if value is not None:
        os.environ["REPORTS_QA_TORCH_THREADS"] = value
