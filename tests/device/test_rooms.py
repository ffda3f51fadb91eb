"""The device's rooms stack in one order, and no import runs back up it (at the top of a module or inside a function).

errors < core < teach, tables, imports < config < sinks < service < commands: a lower room never imports a higher
one, and the web view never imports teach. The device and the trainer never import each other, and the
device never imports TensorFlow or Keras.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

from conftest import REPO

FLOORS = {"errors": 0, "core": 1, "teach": 2, "tables": 2, "imports": 2, "config": 3, "sinks": 4, "service": 5, "commands": 6}
NEVER = ("piclassify.trainer", "tensorflow", "keras", "tf_keras")
FENCES = {"piclassify.device.sinks.web": "piclassify.device.teach"}  # the web view owns the teach panel's interface


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``path``, lazy ones included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def room(module: str) -> str:
    """``piclassify.device.sinks.web.server`` -> ``sinks``; ``piclassify.device.errors`` -> ``errors``."""
    return module.split(".")[2] if module.startswith("piclassify.device.") else ""


def test_no_import_runs_back_up_the_rooms_nor_out_to_the_trainer_or_tensorflow():
    wrong = []
    for path in sorted((REPO / "device").rglob("*.py")):
        here = ".".join(("piclassify",) + path.relative_to(REPO).with_suffix("").parts)
        for line, module in imports(path):
            where = f"{path.relative_to(REPO)}:{line} imports {module}"
            if module.split(".")[0] in NEVER or module.startswith(NEVER[0]):
                wrong.append(where)
            elif room(here) in FLOORS and room(module) in FLOORS and FLOORS[room(module)] > FLOORS[room(here)]:
                wrong.append(f"{where} ({room(here)} is below {room(module)})")
            elif any(here.startswith(inside) and module.startswith(out) for inside, out in FENCES.items()):
                wrong.append(where)
    assert wrong == []


def test_the_trainer_never_imports_the_device():
    wrong = [f"{path.relative_to(REPO)}:{line} imports {module}" for path in sorted((REPO / "trainer").rglob("*.py"))
             for line, module in imports(path) if module.startswith("piclassify.device")]
    assert wrong == []


def test_every_device_module_is_in_a_room():
    modules = {room(".".join(("piclassify",) + path.relative_to(REPO).with_suffix("").parts))
               for path in (REPO / "device").rglob("*.py") if path.name != "__init__.py" or path.parent.name != "device"}
    assert modules <= set(FLOORS)
