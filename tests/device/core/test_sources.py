"""Frame sources on real inputs: image files and folders, a video file written here, the Pi camera's API."""

import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from piclassify.device.core.sources import open_source
from piclassify.device.core.sources.base import NothingYet
from piclassify.device.core.sources.images import ImageFilesSource
from piclassify.device.core.sources.picamera import Picamera2Source
from piclassify.device.errors import CameraError, SourceError
from piclassify.shared.errors import ImageError
from piclassify.shared.files.imagefile import read_image

from tests.helpers import picamera2_standin


def scene(width=640, height=480) -> np.ndarray:
    """Red left half, blue right half: any channel-order mistake shows."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, : width // 2] = (220, 20, 10)
    image[:, width // 2:] = (10, 30, 230)
    return image


def assert_scene(frame_image: np.ndarray, tolerance: int = 12) -> None:
    h, w = frame_image.shape[:2]
    left, right = frame_image[h // 2, w // 4].astype(int), frame_image[h // 2, 3 * w // 4].astype(int)
    assert np.abs(left - (220, 20, 10)).max() <= tolerance, left
    assert np.abs(right - (10, 30, 230)).max() <= tolerance, right


def test_image_folder_yields_rgb_frames_in_name_order(tmp_path):
    for name in ("b.png", "a.jpg", "c.webp", "notes.txt"):
        if name.endswith(".txt"):
            (tmp_path / name).write_text("not an image")
        else:
            Image.fromarray(scene(64, 48)).save(tmp_path / name)
    with open_source(str(tmp_path)) as source:
        frames = list(source)
    assert [f.origin.split("/")[-1] for f in frames] == ["a.jpg", "b.png", "c.webp"]
    assert [f.index for f in frames] == [0, 1, 2]
    for frame in frames:
        assert frame.layout == "RGB"
        assert frame.rgb.shape == (48, 64, 3) and frame.rgb.dtype == np.uint8
        assert_scene(frame.rgb)


def test_a_watched_folder_names_each_file_that_is_no_image_once_not_at_every_listing(tmp_path, caplog):
    """The service lists a watched folder again every second; device/samples holds a CSV beside its photos."""
    Image.fromarray(scene(64, 48)).save(tmp_path / "a.jpg")
    (tmp_path / "scores.csv").write_text("exam1,exam2\n")
    caplog.set_level("INFO", logger="piclassify.device.core.sources.images")
    source = open_source(str(tmp_path), watch=True)
    next(source)
    for _ in range(5):
        with pytest.raises(NothingYet):
            source.read()
    (tmp_path / "notes.txt").write_text("later")
    with pytest.raises(NothingYet):
        source.read()
    with pytest.raises(NothingYet):
        source.read()
    lines = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert len(lines) == 2 and lines[0].endswith(": scores.csv") and lines[1].endswith(": notes.txt"), lines
    assert "skipped 1 of 2 entries" in lines[0] and "skipped 1 of 3 entries" in lines[1]


def test_glob_and_comma_separated_images(tmp_path):
    for name in ("x1.png", "x2.png", "y.bmp"):
        Image.fromarray(scene(32, 24)).save(tmp_path / name)
    with open_source(f"{tmp_path}/x*.png,{tmp_path}/y.bmp") as source:
        assert [frame.origin.split("/")[-1] for frame in source] == ["x1.png", "x2.png", "y.bmp"]


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": stored landscape, shown portrait
    Image.fromarray(scene(64, 48)).save(path, exif=exif)
    assert read_image(path).shape == (64, 48, 3)


def test_corrupt_and_missing_images_are_named(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 truncated jpeg")
    with pytest.raises(ImageError, match="bad.jpg: not a readable image"):
        read_image(bad)
    with pytest.raises(SourceError, match="nothing.png: no such image"):
        ImageFilesSource([str(tmp_path / "nothing.png")])


@pytest.fixture
def video_file(tmp_path):
    """A real 12-frame MJPG video written with OpenCV."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    assert writer.isOpened()
    for _ in range(12):
        writer.write(cv2.cvtColor(scene(160, 120), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_video_file_frames_keep_opencvs_bgr_until_a_model_asks_and_end(video_file):
    with open_source(str(video_file)) as source:
        assert source.name == f"video:{video_file}"
        frames = list(source)
    assert [frame.index for frame in frames] == list(range(12))
    assert frames[0].layout == "BGR"
    assert_scene(frames[0].rgb, tolerance=20)
    np.testing.assert_array_equal(frames[0].gray, cv2.cvtColor(frames[0].pixels, cv2.COLOR_BGR2GRAY))


def test_a_missing_usb_camera_is_a_camera_error_and_a_missing_file_a_source_error(tmp_path):
    with pytest.raises(CameraError, match="/dev/video63"):
        open_source("/dev/video63")
    with pytest.raises(SourceError, match="missing.mp4: no such video file"):
        open_source(str(tmp_path / "missing.mp4"))


@pytest.mark.parametrize("fmt", ["RGB888", "XRGB8888", "YUV420"])
def test_picamera2_frames_are_rgb_whatever_the_memory_layout(monkeypatch, fmt):
    fake = picamera2_standin.module(scene())
    monkeypatch.setitem(sys.modules, "picamera2", fake)
    with Picamera2Source((100, 80), fmt=fmt) as source:  # 100 px: YUV420 stride 128 carries padding
        frame = next(source)
    assert frame.rgb.shape == (80, 100, 3)
    assert_scene(frame.rgb, tolerance=16)
    assert frame.gray.shape == (80, 100)
    np.testing.assert_allclose(frame.gray, cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY), atol=12)
    camera = fake.Picamera2.instances[0]
    assert camera.closed and not camera.started


def test_a_yuv420_frame_gives_a_gray_model_its_y_plane_without_any_conversion(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(scene()))
    with Picamera2Source((100, 80), fmt="YUV420") as source:
        frame = next(source)
    assert frame.layout == "YUV420" and frame.pixels.shape == (120, 128)
    assert np.shares_memory(frame.gray, frame.pixels)


def test_picamera2_is_closed_when_the_caller_fails(monkeypatch):
    fake = picamera2_standin.module(scene())
    monkeypatch.setitem(sys.modules, "picamera2", fake)
    with pytest.raises(RuntimeError, match="caller failed"):
        with open_source("picamera2"):
            raise RuntimeError("caller failed")
    assert fake.Picamera2.instances[0].closed


def test_picamera2_capture_failure_is_a_camera_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(scene(), fail_after=1))
    with Picamera2Source() as source:
        next(source)
        with pytest.raises(CameraError, match="capture failed"):
            next(source)


def test_picamera2_missing_or_without_camera(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as on a machine without it
    with pytest.raises(CameraError, match="python3-picamera2"):
        Picamera2Source()
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(scene(), cameras=[]))
    with pytest.raises(CameraError, match="no camera detected"):
        Picamera2Source()


def test_auto_prefers_the_pi_camera(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", picamera2_standin.module(scene()))
    with open_source("auto") as source:
        assert source.name == "picamera2:0"


def test_auto_without_any_camera_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    monkeypatch.setattr("piclassify.device.core.sources.glob.glob", lambda pattern: [])
    with pytest.raises(CameraError, match="auto: no camera found"):
        open_source("auto")


def noise_video(path):
    """A 600-frame MJPEG video of noise (every frame a JPEG of its own, so damage stays in the frames it hits)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    rng = np.random.default_rng(0)
    for _ in range(600):
        writer.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
    writer.release()
    return path


def read_to_the_end(path) -> tuple[int, list[str]]:
    """Frames a video source delivered, and the one-line errors it said of those it could not."""
    frames, skipped = 0, []
    with open_source(str(path)) as source:
        while True:
            try:
                next(source)
                frames += 1
            except ImageError as error:
                skipped.append(str(error))
            except StopIteration:
                return frames, skipped


def test_a_damaged_video_skips_its_bad_frames_one_line_each_and_still_ends(tmp_path, capfd):
    """2,000 flipped bytes in a 600-frame video: the frames that decode are all classified, not 6 of them."""
    path = noise_video(tmp_path / "clip.avi")
    data = bytearray(path.read_bytes())
    for position in np.random.default_rng(1).integers(10_000, len(data) - 10_000, 2000):
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))
    frames, skipped = read_to_the_end(path)
    assert frames >= 500 and skipped and all("cannot be decoded" in line for line in skipped)
    assert "mjpeg" not in capfd.readouterr().err  # FFmpeg's own words stay out of the journal


def test_a_video_cut_short_ends_with_one_line_that_counts_what_is_missing(tmp_path, capfd):
    """A copy cut off halfway: OpenCV stays at the frame where it ends, and every read fails there again (that was
    100 identical lines)."""
    path = noise_video(tmp_path / "clip.avi")
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    frames, skipped = read_to_the_end(path)
    assert frames == 299
    assert skipped == [f"video:{path}: frames 300-600 of 600 cannot be decoded (the file ends early or is damaged "
                       "from there on); the video ends there"]
    assert "mjpeg" not in capfd.readouterr().err


def test_a_file_that_is_no_video_is_a_source_error_not_a_camera_to_retry(tmp_path):
    text = tmp_path / "some-file.txt"
    text.write_text("not a video")
    with pytest.raises(SourceError, match="some-file.txt: not a video file OpenCV can read"):
        open_source(str(text))
