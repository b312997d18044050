"""Starting real processes from a test: spawned children that never re-run another test's script."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def clean_main() -> Iterator[None]:
    """Start spawned processes inside this block.

    A spawned child imports its parent's ``__main__``; after a Streamlit AppTest has run in the same
    test process, that is the last page script, and the child would run the page instead of its job.
    The children get an empty ``__main__`` instead (the job functions live in importable modules).
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
