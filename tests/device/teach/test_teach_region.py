"""``piclassify teach --region``: whole frames (as the teach panel keeps them) cropped to a region before the fit,
so that a region's model learns what it will read: the card in the timeline scene (``tests/helpers/scenes.py``)."""

from __future__ import annotations

import json

import cv2
import numpy as np

from piclassify.device.commands.cli import main
from piclassify.device.core.frames import Frame
from piclassify.device.core.pipeline import Pipeline
from piclassify.device.core.regions import Box, Region

from tests.helpers import scenes

REGION = ",".join(str(v) for v in scenes.CARD)


def test_examples_cropped_to_the_region_teach_a_model_that_reads_the_regions_crop(tmp_path, capsys):
    rng = np.random.default_rng(3)
    for state, card in (("one", "1"), ("seven", "7"), ("blank", None)):
        (tmp_path / "examples" / state).mkdir(parents=True)
        for number in range(6):
            frame = scenes.draw_frame(rng.integers(0, 100), rng, (320, 240), card)  # the ball and the light vary
            cv2.imwrite(str(tmp_path / "examples" / state / f"{number}.jpg"), frame)
    (tmp_path / "examples" / "one" / "notes.txt").write_text("not a photo")
    assert main(["teach", "card", "--from", str(tmp_path / "examples"), "--out", str(tmp_path / "models"),
                 "--region", REGION]) == 0
    assert "18 photos cropped to the region x=0.55 y=0.15 w=0.4 h=0.7" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "models" / "card.json").read_text())
    assert manifest["training"]["dataset"] == str(tmp_path / "examples")
    assert manifest["training"]["region"] == list(scenes.CARD)
    pipeline = Pipeline.load(str(tmp_path / "models" / "card.npz"))
    region = Region("card", Box(*scenes.CARD))
    for card, label in (("1", "one"), ("7", "seven")):
        frame = scenes.draw_frame(50, np.random.default_rng(9), (320, 240), card)  # a frame it was not taught on
        assert pipeline.classify(region.crop(Frame(frame, 0.0, 0, layout="BGR"))).label == label


def test_a_bad_region_for_teach_is_one_line(tmp_path, capsys):
    assert main(["teach", "card", "--from", str(tmp_path), "--region", "0.5,0.5,0.6,0.6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inside the frame" in err[0]
