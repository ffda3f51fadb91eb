"""Which backbone the trainer stands a model on: ``--backbone FILE``, else the one bundled with piclassify.

So a model made on a workstation names the very bytes every Pi has, wherever it was written; and a folder
that already holds another backbone is refused before any work, its backbone left as it was.
"""

import pytest

from piclassify.device.core.model_files import MODELS_DIR
from piclassify.shared.backbone.extractor import BACKBONE_FILE, bundled_backbone
from piclassify.shared.errors import DatasetError
from piclassify.trainer.backbone.build import find_backbone
from piclassify.trainer.cli import build_parser
from piclassify.trainer.cli import main as train_main

from tests.helpers.options import command_options, options_named
from tests.helpers.shapes import write_shapes

BACKBONE = MODELS_DIR / BACKBONE_FILE


def other_backbone(folder):
    data = bytearray(BACKBONE.read_bytes())
    data[-100] ^= 0xFF
    (folder / BACKBONE_FILE).write_bytes(bytes(data))
    return folder / BACKBONE_FILE


def test_without_backbone_the_trainer_stands_on_the_bundled_one_and_builds_none(tmp_path):
    lines = []
    assert find_backbone(tmp_path, None, lines.append) == bundled_backbone() == BACKBONE
    assert list(tmp_path.iterdir()) == [] and lines == [f"backbone: {BACKBONE}"]


def test_the_same_backbone_already_in_the_folder_is_fine(tmp_path):
    (tmp_path / BACKBONE_FILE).write_bytes(BACKBONE.read_bytes())
    assert find_backbone(tmp_path, None, lambda line: None) == BACKBONE


def test_a_backbone_file_that_is_not_there_is_named_by_its_option(tmp_path):
    with pytest.raises(DatasetError, match=r"^--backbone .*nothing.gz: no such file$"):
        find_backbone(tmp_path, tmp_path / "nothing.gz", lambda line: None)


@pytest.mark.parametrize("command", ["folder", "reject"])
def test_another_backbone_where_the_model_goes_is_refused_at_once_and_kept(tmp_path, capsys, command):
    other = other_backbone(tmp_path)
    before = other.read_bytes()
    if command == "folder":
        args = ["folder", str(write_shapes(tmp_path / "shapes", per_class=(2, 1))), "--name", "shapes",
                "--out", str(tmp_path)]
    else:
        (tmp_path / "digits.tflite").write_bytes((MODELS_DIR / "digits.tflite").read_bytes())
        (tmp_path / "digits.json").write_bytes((MODELS_DIR / "digits.json").read_bytes())
        args = ["reject", str(tmp_path / "digits.tflite"), "--dataset", "digits"]
    assert train_main(args + ["--verbose"]) == 2
    error = capsys.readouterr().err.strip()
    assert "another backbone is there" in error and f"--backbone {other}" in error and "\n" not in error
    assert options_named(error) <= command_options(build_parser(), command)
    assert other.read_bytes() == before
