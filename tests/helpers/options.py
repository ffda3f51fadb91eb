"""Which options a message names, and which a command has: a message may name only options that exist."""

from __future__ import annotations

import argparse
import re

OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def options_named(text: str) -> set[str]:
    """Every ``--option`` in ``text``."""
    return set(OPTION.findall(text))


def command_parser(parser: argparse.ArgumentParser, *command: str) -> argparse.ArgumentParser:
    """The parser of a sub-command (``command_parser(parser, "folder")``), or ``parser`` itself."""
    for name in command:
        (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
        parser = sub.choices[name]
    return parser


def command_options(parser: argparse.ArgumentParser, *command: str) -> set[str]:
    """The options a command takes."""
    return {name for name in command_parser(parser, *command)._option_string_actions if name.startswith("--")}


def every_option(parser: argparse.ArgumentParser) -> set[str]:
    """The options of a parser and of each of its sub-commands, all together."""
    options = {name for name in parser._option_string_actions if name.startswith("--")}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= every_option(sub)
    return options
