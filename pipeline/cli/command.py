"""A subcommand is its handler: the handler's docstring is the command's help, so that the
text and the code of a command stand together and each command is registered in one line."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from typing import TypeAlias

Handler = Callable[[argparse.Namespace], int]
# A string: argparse does not subscript the class at run time.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_command(subparsers: Subparsers, name: str, handler: Handler) -> argparse.ArgumentParser:
    """The subcommand `name`, run by `handler`; its arguments are added to what this returns.

    The docstring's first paragraph is the command's line in its group's list, the rest (if
    any) the description its --help prints; argparse folds their line breaks.
    """
    summary, _, description = inspect.cleandoc(handler.__doc__ or "").partition("\n\n")
    parser = subparsers.add_parser(name, help=summary, description=description or None)
    parser.set_defaults(handler=handler)
    return parser
