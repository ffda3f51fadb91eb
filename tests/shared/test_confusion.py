"""The confusion matrix as a PNG (``piclassify evaluate --report``, the trainer's reports): every word whole."""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from piclassify.shared.confusion import HEADER, confusion_layout, save_confusion_png


def drawn_alone(size, at, text, fill):
    """``text`` drawn where the PNG draws it, on white and nothing else."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text(at, text, fill=fill, font=ImageFont.load_default())
    return image


@pytest.mark.parametrize("labels, title", [
    (tuple("0123456789") + ("nothing",), "digits: 97.10% of 60 photos"),  # short labels: the corner's header decides
    (("cats", "dogs", "nothing"), "a-model-with-a-long-name: 83.33% of 6 photos in my-own-photos"),  # a long title
    (("T-shirt/top", "Trouser", "Ankle boot", "nothing"), "fashion"),
])
def test_the_header_and_the_title_are_whole_and_nothing_is_drawn_over_them(tmp_path, labels, title):
    matrix = np.arange(len(labels) ** 2).reshape(len(labels), len(labels))
    save_confusion_png(matrix, labels, title, tmp_path / "m.png")
    png = Image.open(tmp_path / "m.png").convert("RGB")
    font = ImageFont.load_default()
    layout = confusion_layout(labels, title, font)
    assert png.size == layout.size
    for text, at, fill in ((HEADER, layout.header_at, "gray"), (title, layout.title_at, "black")):
        left, top, right, bottom = font.getbbox(text)
        box = (at[0] + left, at[1] + top, at[0] + right, at[1] + bottom)
        assert box[2] <= png.size[0] and box[3] <= png.size[1], f"{text!r} runs off the picture"
        alone = drawn_alone(png.size, at, text, fill)
        assert np.array_equal(np.asarray(png.crop(box)), np.asarray(alone.crop(box))), f"{text!r} is cut or covered"
    assert layout.header_at[0] + font.getlength(HEADER) < layout.margin, "the header stays left of the columns"
