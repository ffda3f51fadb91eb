"""The command lines of ``piclassify`` and ``piclassify-train``: argparse, with every mistake said in one line.

argparse reports a required option as missing before it looks at options it does not know, so a mistyped
``--modle digits`` read "the following arguments are required: --model". Here an option that no command knows
is named first, with the nearest one that exists, by the sub-command it was given to.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import NoReturn, Optional, Sequence

NUMBER = re.compile(r"-\d|-\.\d")  # a negative number is a value, not an option


class OneLineParser(argparse.ArgumentParser):
    """argparse with errors as one line (and exit code 2), like every other bad input; unknown options named first."""

    _given: Sequence[str] = ()

    def parse_known_args(self, args: Optional[Sequence[str]] = None,  # type: ignore[override]
                         namespace: Optional[argparse.Namespace] = None) -> tuple[argparse.Namespace, list[str]]:
        self._given = list(sys.argv[1:] if args is None else args)  # a sub-command's parser gets its own share
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:  # said by the sub-command that was given them, which names its own --help
            options = [extra.split("=", 1)[0] for extra in extras if extra.startswith("--")]
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._nearest(options[0]) if options else ''}")
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        unknown = self.unknown_options()
        if unknown and message.startswith("the following arguments are required"):
            message = f"unrecognized arguments: {' '.join(unknown)}{self._nearest(unknown[0])}"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def unknown_options(self) -> list[str]:
        """The options given to this parser that it does not know (nor any option it knows starts with)."""
        known = list(self._option_string_actions)
        unknown = []
        for token in self._given:
            if token == "--":
                break
            if not token.startswith("-") or token == "-" or NUMBER.match(token):
                continue
            option = token.split("=", 1)[0]
            if option not in known and not (self.allow_abbrev and option.startswith("--")
                                            and any(name.startswith(option) for name in known)):
                unknown.append(option)
        return unknown

    def _nearest(self, option: str) -> str:
        close = difflib.get_close_matches(option, [name for name in self._option_string_actions
                                                   if name.startswith("--")], n=1, cutoff=0.6)
        return f" (did you mean {close[0]}?)" if close else ""
