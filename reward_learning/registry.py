"""Names to builders, one registry per kind of component (reward modes, query strategies ...).

A registry is the one table that the command line's choices, :func:`validate`'s checks and
``--help`` read (imitation's scripts and Gymnasium's ``register`` work the same way): a new
reward mode or query strategy is one ``register`` call, from this package or from outside it,
and the run receives the built object, never its name.

A builder may be given as an entry point, ``"package.module:name"``, imported when first used,
as Gymnasium's ``register(id, entry_point=...)`` does: each subpackage's ``__init__`` lists its
components that way, so that the command line's choices and ``--help`` load neither torch nor
MuJoCo.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from reward_learning.errors import UserInputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Builders by name for one kind of component.

    Args:
        kind: what the components are, for messages ("reward mode").
        flag: the command-line flag that names one ("--reward").
    """

    def __init__(self, kind: str, flag: str) -> None:
        self.kind = kind
        self.flag = flag
        self._builders: dict[str, Callable[..., T] | str] = {}
        self._docs: dict[str, str] = {}

    def register(self, name: str, builder: Callable[..., T] | str, doc: str) -> None:
        """Add ``name``; ``doc`` says in a few words what it does (shown by ``--help``).

        ``builder``: a callable, or its entry point ``"package.module:name"``.

        Raises:
            ValueError: ``name`` is registered already.
        """
        if name in self._builders:
            raise ValueError(f"{self.kind} {name!r} is registered already")
        self._builders[name] = builder
        self._docs[name] = doc

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plug-in's test cleaning up after itself)."""
        self.check(name)
        del self._builders[name], self._docs[name]

    def names(self) -> tuple[str, ...]:
        """Every registered name, in the order registered."""
        return tuple(self._builders)

    def describe(self) -> str:
        """``name (doc), name (doc) ...`` for ``--help``."""
        return ", ".join(f"{name} ({doc})" for name, doc in self._docs.items())

    def check(self, name: str) -> None:
        """Refuse an unknown name in one line.

        Raises:
            UserInputError: names the flag, the value and the choices.
        """
        if name not in self._builders:
            raise UserInputError(f"{self.flag} {name!r}: expected one of {', '.join(self.names())}")

    def get(self, name: str) -> Callable[..., T]:
        """The builder (or, for plain-function components such as strategies, the function)."""
        self.check(name)
        builder = self._builders[name]
        if isinstance(builder, str):
            module, _, attribute = builder.partition(":")
            builder = getattr(importlib.import_module(module), attribute)
            self._builders[name] = builder
        return builder

    def build(self, name: str, *args: object, **kwargs: object) -> T:
        """The component ``name``, built from ``args`` (checked first)."""
        return self.get(name)(*args, **kwargs)
