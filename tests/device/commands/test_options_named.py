"""Every message names only options that exist: a ``--word`` anywhere in the code's strings is an option of
``piclassify`` or ``piclassify-train`` (or of the other program the string is about), and a mistyped option is
named as such, by the command it was given to, with the nearest real one.
"""

import ast

import pytest

from piclassify.device.commands.cli import build_parser as device_parser
from piclassify.trainer.cli import build_parser as trainer_parser
from piclassify.trainer.cli import main as train_main

from conftest import REPO
from tests.helpers.options import OPTION, every_option

# Options of other programs, each in the one file that names it.
OTHERS = {
    "device/sinks/web/page.py": {"--accent", "--bad", "--bg", "--card", "--dim", "--line", "--ok", "--text"},  # CSS
    "device/sinks/web/page_regions.py": {"--accent"},  # the page's CSS variable
    "device/service/install.py": {"--system", "--user-group", "--home-dir", "--no-create-home", "--shell", "--now"},
    "device/service/cli.py": {"--now"},  # systemctl enable --now
    "device/core/sources/picamera.py": {"--list-cameras", "--system-site-packages"},  # rpicam-hello, python -m venv
    "device/commands/bench.py": {"--frames", "--paced-frames", "--rounds"},  # scripts/bench_*.py's own rounds
    "shared/arguments.py": {"--modle"},  # the mistyped option its docstring is about
}


def strings_in(path):
    """(line, text) of every string constant in a module, f-strings' literal parts included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def test_every_option_a_message_names_is_an_option_of_a_command():
    known = every_option(device_parser()) | every_option(trainer_parser())
    wrong = []
    for room in ("device", "trainer", "shared"):
        for path in sorted((REPO / room).rglob("*.py")):
            where = str(path.relative_to(REPO))
            for line, text in strings_in(path):
                wrong += [f"{where}:{line} names {option}" for option in OPTION.findall(text)
                          if option not in known and option not in OTHERS.get(where, ())]
    assert wrong == []


@pytest.mark.parametrize("args, message", [
    (["folder", "photos", "--nme", "x"], "piclassify-train folder: error: unrecognized arguments: --nme (did you mean "
                                         "--name?)"),
    (["folder", "photos", "--name", "x", "--photos", "p"], "piclassify-train folder: error: unrecognized arguments: "
                                                          "--photos p"),
    (["backbone", "--rebuilt"], "piclassify-train backbone: error: unrecognized arguments: --rebuilt (did you mean "
                                "--rebuild?)"),
])
def test_the_trainer_names_an_unknown_option_in_one_line_by_its_command(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        train_main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1
