"""The rows of a peewee ``.tuples()`` query, typed as what they are.

peewee's stubs type ``ModelSelect[M].tuples()`` as the same query, whose rows
would be ``M`` instances; at run time each row is a plain tuple of the
selected columns. ``tuples(query)`` is ``query.tuples()`` that says so to the
type checker in this one place, instead of a cast (or an ignore) at every loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import peewee as pw


def tuples(query: pw.SelectBase) -> Iterable[tuple[Any, ...]]:
    """``query.tuples()``: still the query, run when iterated (and again at each iteration), as peewee does."""
    return cast(Iterable[tuple[Any, ...]], query.tuples())
