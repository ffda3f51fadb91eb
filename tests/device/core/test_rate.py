"""One frame rate: every frame classified, a second, over about the last two seconds (STATUS and the web view)."""

import pytest

from piclassify.device.core import rate as rate_module
from piclassify.device.core.loop import FrameLoop, LoopSettings
from piclassify.device.core.rate import Rate
from piclassify.device.core.sink import Sinks


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(rate_module.time, "monotonic", lambda: now[0])
    return now


def test_the_rate_is_over_the_last_two_seconds_and_falls_to_zero_when_frames_stop(clock):
    rate = Rate()
    assert rate(0) is None  # nothing known yet
    for second in range(1, 6):
        clock[0] = 100.0 + second
        measured = rate(10 * second)
    assert measured == pytest.approx(10.0)
    clock[0] = 108.0
    assert rate(50) == pytest.approx(0.0)


def test_status_and_every_reader_show_the_loop_s_one_rate(clock):
    loop = FrameLoop(lambda: None, None, Sinks([]), LoopSettings())
    for second in range(1, 4):
        clock[0] = 100.0 + second
        loop.counts.classified = 5 * second
        loop._rate(loop.counts.classified)
    assert loop.fps() == pytest.approx(5.0)
    assert loop.status_text().startswith("5.0 fps, last: none yet")
    assert "fps" not in loop.status_text(with_fps=False)
