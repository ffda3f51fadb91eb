"""Images as untrusted input: a size limit checked before decoding, big JPEGs decoded reduced, files
that are not files refused at once, --debug-dir never written through a symlink, and nothing on
stderr but the one line that names a bad file.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from piclassify.device.commands.cli import main
from piclassify.device.core.model_files import SAMPLES_DIR
from piclassify.shared.errors import ImageError
from piclassify.shared.files.imagefile import MAX_PIXELS, read_image

from tests.helpers.guard import guard

SAMPLE = SAMPLES_DIR / "digits-1-7.jpg"


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only a header: it claims ``width`` x ``height`` RGB pixels and holds none."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) \
        + chunk(b"IEND", b"")


def scene(width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], -1).astype(np.uint8))


@pytest.mark.parametrize("width, height", [(30000, 30000), (12500, 12500), (20000, 1000)])
def test_a_header_claiming_too_many_pixels_is_one_line_and_exit_2_before_any_decoding(tmp_path, capsys,
                                                                                      width, height):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(width, height))
    assert len(bomb.read_bytes()) == 45
    assert main(["predict", "--model", "digits", str(bomb), str(SAMPLE)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"piclassify: error: {bomb}: ") and captured.err.count("\n") == 1
    assert "pixels" in captured.err
    assert captured.out.startswith(f"{SAMPLE}: 7 ("), "the other image is still classified"


def test_run_and_the_service_loop_skip_an_oversized_image_and_go_on(tmp_path, capsys, caplog):
    folder = tmp_path / "camera"
    folder.mkdir()
    (folder / "a-bomb.png").write_bytes(png_header(30000, 30000))
    (folder / "b.jpg").write_bytes(SAMPLE.read_bytes())
    assert main(["run", "--model", "digits", "--source", str(folder), "--json"]) == 0
    assert [json.loads(line)["label"] for line in capsys.readouterr().out.splitlines()] == ["7"]
    assert f"skipped: {folder / 'a-bomb.png'}: " in caplog.text


def test_the_size_is_checked_against_the_limit_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    scene(40, 30).save(path)
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", "1000")
    monkeypatch.setattr("PIL.ImageFile.ImageFile.load", lambda self: pytest.fail("decoded"))
    with pytest.raises(ImageError) as caught:
        read_image(path)
    assert str(caught.value) == (f"{path}: 40x30 is 1,200 pixels, more than the 1,000 this machine decodes "
                                 "(set PICLASSIFY_MAX_PIXELS to change it)")


def test_the_default_limit_fits_a_pi_camera_frame_and_a_bad_setting_is_named(tmp_path, monkeypatch):
    assert 4056 * 3040 <= MAX_PIXELS <= 20_000_000  # the HQ camera's full frame, with little to spare
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="PICLASSIFY_MAX_PIXELS='lots': expected a whole number of pixels"):
        read_image(SAMPLE)


@pytest.mark.parametrize("limit, shape", [(10_000, (75, 100, 3)), (2_000, (38, 50, 3)), (500, (19, 25, 3))])
def test_a_jpeg_over_the_limit_is_decoded_at_the_largest_scale_that_fits(tmp_path, monkeypatch, limit, shape):
    path = tmp_path / "big.jpg"
    scene(200, 150).save(path, quality=90)
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", str(limit))
    assert read_image(path).shape == shape


def test_an_image_within_the_limit_gets_exactly_the_pixels_it_always_did(tmp_path, monkeypatch):
    """Training photos and camera frames are never drafted: only images that would be refused are."""
    for name in ("at-limit.jpg", "palette.png", "rgba.png"):
        image = scene(200, 150)
        image = image.convert("P") if name == "palette.png" else image.convert("RGBA") if name == "rgba.png" else image
        image.save(tmp_path / name)
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", str(200 * 150))
    for name in ("at-limit.jpg", "palette.png", "rgba.png"):
        with Image.open(tmp_path / name) as image:
            expected = np.asarray(image.convert("RGB"))
        assert np.array_equal(read_image(tmp_path / name), expected), name


def test_a_png_over_the_limit_is_refused_not_reduced(tmp_path, monkeypatch):
    scene(200, 150).save(tmp_path / "big.png")
    monkeypatch.setenv("PICLASSIFY_MAX_PIXELS", "10000")
    with pytest.raises(ImageError, match="200x150 is 30,000 pixels, more than the 10,000"):
        read_image(tmp_path / "big.png")


@pytest.mark.parametrize("kind, expected", [("fifo", "a FIFO"), ("folder", "a folder"), ("device", "a character device")])
def test_what_is_not_a_file_is_refused_at_once_never_waited_on(tmp_path, capsys, kind, expected):
    path = tmp_path / "photo.jpg"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
        (path / "inside.jpg").write_bytes(SAMPLE.read_bytes())
    else:
        path = Path("/dev/null")
    with guard(10):  # without O_NONBLOCK, opening a FIFO with no writer blocks forever
        with pytest.raises(ImageError) as caught:
            read_image(path)
    assert str(caught.value) == f"{path}: cannot read: not a regular file ({expected})"


def test_files_a_folder_holds_besides_images_are_counted_in_one_line(tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    (tmp_path / "a.jpg").write_bytes(SAMPLE.read_bytes())
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "raw").mkdir()
    os.mkfifo(tmp_path / "pipe.jpg")
    with guard(10):
        assert main(["predict", "--model", "digits", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1
    assert f"{tmp_path}: skipped 3 of 4 entries, not .jpg/.jpeg/.png/.bmp/.webp files: notes.txt, pipe.jpg, raw" \
        in caplog.text


# -- --debug-dir ----------------------------------------------------------------------------------

def test_debug_dir_replaces_a_planted_symlink_instead_of_writing_through_it(tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.write_bytes(b"do not touch")
    debug = tmp_path / "debug"
    debug.mkdir()
    (debug / f"{SAMPLE.stem}-frame.png").symlink_to(precious)
    (debug / f"{SAMPLE.stem}-model-input.png").symlink_to(tmp_path / "created-elsewhere.png")
    assert main(["predict", "--model", "digits", "--debug-dir", str(debug), str(SAMPLE)]) == 0
    assert precious.read_bytes() == b"do not touch"
    assert not (tmp_path / "created-elsewhere.png").exists()
    for name in ("frame", "model-input"):
        written = debug / f"{SAMPLE.stem}-{name}.png"
        assert not written.is_symlink() and Image.open(written).format == "PNG"
    assert not [path for path in debug.iterdir() if path.name.startswith(".")], "no temporary file left"


def test_a_debug_dir_that_cannot_be_written_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("a file where the folder should be")
    assert main(["predict", "--model", "digits", "--debug-dir", str(tmp_path / "file" / "dbg"), str(SAMPLE)]) == 2
    assert capsys.readouterr().err == (f"piclassify: error: {tmp_path / 'file' / 'dbg'}: cannot save debug images: "
                                       "Not a directory\n")


# -- what reaches stderr, and what memory a single image costs (each in a fresh process) ----------

def run_predict(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``piclassify predict`` in a fresh process that also prints its peak RSS in MB as its last line.

    The peak is the process's own VmHWM: ``ru_maxrss`` would also count the pytest process it was
    spawned from, which Linux folds into the child's maximum at exec.
    """
    code = ("import re, sys; from piclassify.device.commands.cli import main; rc = main(sys.argv[1:]); "
            "status = open('/proc/self/status').read(); "
            "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)) / 1024); sys.exit(rc)")
    environ = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code, "predict", *args], capture_output=True, text=True,
                          timeout=120, env={**environ, **(env or {})})


def test_nothing_but_results_and_one_line_per_bad_file_reaches_the_terminal(tmp_path):
    """No LiteRT "INFO: Created ... XNNPACK delegate", no Pillow warning: only the line naming the bad file."""
    jpeg = io.BytesIO()
    scene(64, 48).save(jpeg, format="JPEG")
    data = bytearray(jpeg.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 11000, 11000)  # 121 MP: Pillow warns of a decompression bomb
    odd = tmp_path / "huge-header.jpg"
    odd.write_bytes(bytes(data))  # decoded at 1/8 scale, from what data there is
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    spp = tmp_path / "19-samples-per-pixel.tif"  # Pillow logs an error of its own about it
    spp.write_bytes(tiff_with_samples_per_pixel(19))
    done = run_predict("--model", "digits", str(SAMPLE), str(odd), str(broken), str(spp))
    assert done.returncode == 2
    assert done.stderr == (f"piclassify: error: {broken}: not a readable image (UnidentifiedImageError)\n"
                           f"piclassify: error: {spp}: not a readable image (UnidentifiedImageError)\n")
    assert len(done.stdout.splitlines()) == 3  # two results and the peak RSS


def tiff_with_samples_per_pixel(count: int) -> bytes:
    """A small RGB TIFF whose SamplesPerPixel tag (277) says ``count``."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, format="TIFF")
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    for entry in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * entry
        if struct.unpack_from("<H", data, at)[0] == 277:
            struct.pack_into("<H", data, at + 8, count)
    return bytes(data)


def test_one_image_at_the_limit_or_a_big_jpeg_costs_at_most_300_mb(tmp_path):
    """The limit's purpose: a Pi with 1 GB survives any single image (measured, not timed)."""
    side = int(MAX_PIXELS ** 0.5)
    Image.new("RGBA", (side, side), (90, 120, 150, 255)).save(tmp_path / "at-limit.png", compress_level=1)
    Image.new("RGB", (8000, 6000), (90, 120, 150)).save(tmp_path / "48mp.jpg", quality=80)
    done = run_predict("--model", "catsdogs", str(tmp_path / "at-limit.png"), str(tmp_path / "48mp.jpg"))
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.splitlines()[-1]) <= 300
