"""Generalized Assignment Problem instances: the OR-Library / Yagiura file format.

A file holds ``m n``, m rows of n costs (agent x job), m rows of n resources, m capacities, all
whitespace-separated; the benchmark sets (shared/benchmarks/gap/ beside the repository) are zip files holding
one such text file each. ``read_gap(path)`` reads either; ``parse_gap(text)`` reads the text.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class GapInstance:
    name: str
    cost: np.ndarray  # agents x jobs
    resource: np.ndarray  # agents x jobs
    capacity: np.ndarray  # agents


def parse_gap(text: str, name: str = "gap") -> GapInstance:
    """An instance from the whitespace-separated OR-Library text."""
    values = np.array(text.split(), dtype=np.int64)
    m, n = int(values[0]), int(values[1])
    body = values[2:]
    if len(body) < 2 * m * n + m:
        raise ValueError(f"{name}: expected {2 * m * n + m} numbers after 'm n', found {len(body)}")
    return GapInstance(
        name=name,
        cost=body[: m * n].reshape(m, n),
        resource=body[m * n : 2 * m * n].reshape(m, n),
        capacity=body[2 * m * n : 2 * m * n + m],
    )


def read_gap(path: str | Path) -> GapInstance:
    """An instance from a .zip holding one text file, or from the text file itself."""
    path = Path(path)
    name = path.name.removesuffix(".zip")
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            return parse_gap(archive.read(archive.namelist()[0]).decode(), name)
    return parse_gap(path.read_text(), name)
