"""Entry-point configs: dataclasses whose field docstrings become ``--help`` (CleanRL's ``Args``)."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from reward_learning.errors import UserInputError

T = TypeVar("T")


def field_docs(cls: type) -> dict[str, str]:
    """The string literal under each field of a dataclass, by field name."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _base_type(annotation: Any) -> tuple[type, bool]:
    """(element type, is_list) of an annotation such as ``int``, ``str | None``, ``list[str]``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(inner)
    if origin is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def add_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    choices: Mapping[str, Sequence[str]] | None = None,
    skip: tuple[str, ...] = (),
    unset_is_none: bool = False,
) -> None:
    """Add one ``--flag`` per dataclass field, typed, with its docstring as help.

    Args:
        parser: where the flags go.
        cls: the config dataclass.
        choices: allowed values per field name.
        skip: fields that are not flags (positional arguments the caller adds itself).
        unset_is_none: a flag not given parses as ``None`` (the help still shows the default),
            so that the caller can tell it from an explicit value.
    """
    choices = choices or {}
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, is_list = _base_type(hints[f.name])
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        flag = "--" + f.name.replace("_", "-")
        # argparse %-formats help strings; a docstring's "88%" must stay literal.
        help_ = f"{docs.get(f.name, '')} (default: {default})".replace("%", "%%")
        if unset_is_none:
            default = None
        if kind is bool:
            parser.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=default, help=help_
            )
        else:
            parser.add_argument(
                flag,
                type=kind,
                default=default,
                nargs="+" if is_list else None,
                choices=choices.get(f.name),
                help=help_,
            )


def from_namespace(cls: type[T], namespace: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from the parsed flags that name its fields."""
    values = {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values.update(overrides)
    return cls(**values)


def save_config(config: Any, path: Path) -> None:
    """Write a dataclass config as JSON."""
    path.write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")


def check_ranges(config: Any, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Refuse a numeric field outside its inclusive ``(low, high)`` range, in one line.

    Raises:
        UserInputError: names the flag, the value and the range.
    """
    for name, (low, high) in ranges.items():
        value = getattr(config, name)
        if not low <= value <= high:
            bounds = f">= {low:g}" if high == float("inf") else f"in [{low:g}, {high:g}]"
            raise UserInputError(f"--{name.replace('_', '-')} {value}: expected a value {bounds}")
