"""``piclassify import`` of files that are not what they claim: one line, exit code 2, nothing written.

A zip that escapes its folder, a zip bomb, labels that do not match the outputs, a model whose input is not an
image, a million labels, an Edge Impulse ``.eim``, and Teachable Machine's other downloads. Made from the
bundled models, so these run on the Pi too (no TensorFlow).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from piclassify.device.core.model_files import MODELS_DIR

from tests.helpers.cli import piclassify


def zipped(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


DIGITS = (MODELS_DIR / "digits.tflite").read_bytes()
LABELS = "".join(f"{n} {n}\n" for n in range(10)).encode()


def refused(capsys, tmp_path, *args) -> str:
    """Run the import into ``tmp_path/out``: it must fail in one line with exit code 2 and write nothing."""
    code, out, err = piclassify(capsys, "import", *args, "--name", "foreign", "--out", tmp_path / "out")
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()
    return err


def test_a_zip_whose_member_escapes_its_folder_is_refused(tmp_path, capsys):
    download = zipped(tmp_path / "tm.zip", {"../../model_unquant.tflite": DIGITS, "labels.txt": LABELS})
    assert "outside its own folder" in refused(capsys, tmp_path, "--from", download)
    download = zipped(tmp_path / "abs.zip", {"/etc/model_unquant.tflite": DIGITS, "labels.txt": LABELS})
    assert "outside its own folder" in refused(capsys, tmp_path, "--from", download)


def test_a_zip_bomb_stops_at_its_bound(tmp_path, capsys):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("model_unquant.tflite", "w", force_zip64=True) as member:
            chunk = bytes(1 << 20)
            for _ in range(80):  # 80 MiB of zeros in about 80 KB
                member.write(chunk)
        archive.writestr("labels.txt", LABELS)
    (tmp_path / "bomb.zip").write_bytes(buffer.getvalue())
    assert (tmp_path / "bomb.zip").stat().st_size < 1 << 20
    assert "inflates to more than 64 MiB" in refused(capsys, tmp_path, "--from", tmp_path / "bomb.zip")


def test_labels_that_do_not_match_the_outputs_are_refused(tmp_path, capsys):
    (tmp_path / "model.tflite").write_bytes(DIGITS)
    err = refused(capsys, tmp_path, "--tflite", tmp_path / "model.tflite", "--labels", "cat,dog,bird")
    assert "10 output(s), but the labels name 3" in err


def test_a_model_whose_input_is_not_an_image_is_refused(tmp_path, capsys):
    err = refused(capsys, tmp_path, "--tflite", MODELS_DIR / "admission.tflite", "--labels", "no,yes")
    assert "is not an image" in err and "--min-max" in err


def test_a_million_labels_are_refused_before_anything_else(tmp_path, capsys):
    (tmp_path / "model.tflite").write_bytes(DIGITS)
    (tmp_path / "labels.txt").write_text("".join(f"{n} label {n}\n" for n in range(10 ** 6)))
    err = refused(capsys, tmp_path, "--tflite", tmp_path / "model.tflite", "--labels", tmp_path / "labels.txt")
    assert "not a labels file" in err


def test_an_edge_impulse_eim_is_a_program_and_refused(tmp_path, capsys):
    (tmp_path / "model.eim").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(1000))
    err = refused(capsys, tmp_path, "--tflite", tmp_path / "model.eim", "--labels", "a,b")
    assert "Edge Impulse .eim is a program" in err and "TensorFlow Lite" in err
    (tmp_path / "renamed.tflite").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(1000))
    assert "is a program" in refused(capsys, tmp_path, "--tflite", tmp_path / "renamed.tflite", "--labels", "a,b")


@pytest.mark.parametrize("members, said", [
    ({"keras_model.h5": b"\x89HDF", "labels.txt": LABELS}, "piclassify-train import keras_model.h5"),
    ({"model.json": b"{}", "weights.bin": b"", "metadata.json": b"{}"}, "TensorFlow.js"),
    ({"model_edgetpu.tflite": DIGITS, "labels.txt": LABELS}, "Coral"),
    ({"model_unquant.tflite": b"not a model at all", "labels.txt": LABELS}, "not a TFLite model"),
    ({"model_unquant.tflite": DIGITS}, "no labels.txt"),
])
def test_the_other_downloads_are_named_for_what_they_are(tmp_path, capsys, members, said):
    assert said in refused(capsys, tmp_path, "--from", zipped(tmp_path / "download.zip", members))


def test_not_a_zip_at_all_is_one_line(tmp_path, capsys):
    (tmp_path / "download.zip").write_bytes(b"PK\x03\x04 and then nothing")
    assert "not a readable zip" in refused(capsys, tmp_path, "--from", tmp_path / "download.zip")


def test_table_options_and_image_options_do_not_mix(tmp_path, capsys):
    err = refused(capsys, tmp_path, "--tflite", MODELS_DIR / "admission.tflite", "--min-max", tmp_path / "mm.json",
                  "--check", tmp_path)
    assert "--check: for image models" in err
    err = refused(capsys, tmp_path, "--tflite", MODELS_DIR / "digits.tflite", "--features", "a,b")
    assert "--features: for a table model" in err
