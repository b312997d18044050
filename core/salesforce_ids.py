"""Salesforce record ids: their shape, the 18-character checksum, and deterministic ids for samples.

A Salesforce id is 15 case-sensitive characters (a 3-character key prefix naming the object, e.g.
``005`` User, ``001`` Account, ``0MI`` Territory2) or the same 15 followed by a 3-character suffix
that makes it case-insensitive (the "18-character id"). ``sample_id`` builds valid 18-character ids
from a book's prefix and a running number, so a sample book can be exported as Salesforce files.
"""

from __future__ import annotations

import re

USER = "005"
ACCOUNT = "001"
TERRITORY2 = "0MI"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_SHAPE = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")


def checksum(id15: str) -> str:
    """The 3-character suffix of a 15-character id: one character per 5, from where its capitals are."""
    chunks = (id15[i : i + 5] for i in range(0, 15, 5))
    return "".join(_SUFFIX[sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")] for chunk in chunks)


def is_salesforce_id(value: object, *, prefix: str | None = None) -> bool:
    """Whether ``value`` is a 15- or 18-character Salesforce id (of the object ``prefix``, if given);
    an 18-character id must carry the right checksum."""
    if not isinstance(value, str) or not _SHAPE.match(value):
        return False
    if prefix is not None and not value.startswith(prefix):
        return False
    return len(value) == 15 or value[15:] == checksum(value[:15])


def sample_id(prefix: str, book: str, number: int) -> str:
    """A valid 18-character id for object ``prefix`` and record ``number`` of the sample ``book``.

    The book's letters pick a block of numbers so that ids of different books never collide:
    ``sample_id("005", "SW", 1)`` is always the same id.
    """
    value = int.from_bytes(book.encode(), "big") * 1_000_000 + number
    digits = ""
    while value:
        value, rest = divmod(value, 62)
        digits = _BASE62[rest] + digits
    id15 = prefix + digits.rjust(12, "0")
    return id15 + checksum(id15)
