"""``piclassify run`` (and ``demo`` with a camera): the service's loop and outputs, run by hand on the console.

The flags become a ``ServiceConfig``, as the service's file does, and ``device.sinks.outputs`` opens
what it names (the console, and with ``--web`` the web view), so ``run`` and the service share one
path from a frame to every output. What ``run`` adds is a source opened up front (a source that
cannot open at all is exit code 2 here, where the service would keep retrying it), a console, a
count of results to stop after, and no results log.
"""

from __future__ import annotations

import argparse
import queue
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from piclassify.device.core.loop import FrameLoop, LoopSettings, signals_to_events
from piclassify.device.errors import RegionError, SourceError

if TYPE_CHECKING:  # the config and the outputs are imported when a loop runs, not by every command
    from piclassify.device.config import RegionConfig, ResultsConfig, ServiceConfig, WebConfig
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.regions import Regions
    from piclassify.device.core.sources import FrameSource


def cmd_run(args: argparse.Namespace) -> int:
    from piclassify.device.core.pipeline import Pipeline
    from piclassify.device.core.sources import open_source

    pipeline = Pipeline.load(args.model, threads=args.threads, runtime=args.runtime)
    config = run_config(args)
    regions = watched_regions(config, pipeline, lambda name: Pipeline.load(name, args.threads, args.runtime))
    first = open_source(config.source, config.size, loop=args.repeat)  # a source that cannot open at all: exit 2
    print(f"piclassify: classifying {first.name} with {pipeline.manifest.name} "
          f"({pipeline.classifier.runtime.name} {pipeline.classifier.runtime.version}); Ctrl-C stops",
          file=sys.stderr, flush=True)
    run_loop(config, pipeline, first, lambda: open_source(config.source, config.size, loop=args.repeat),
             replace(config.loop_settings(), count=args.count), "json" if args.json else "text", regions)
    return 0


def run_config(args: argparse.Namespace) -> ServiceConfig:
    """``run``'s flags as the config the service would read: its source and pacing, no results log, the web view."""
    from piclassify.device.config import ServiceConfig

    interval = args.every if args.every else (1.0 / args.max_fps if args.max_fps else 0.0)
    regions = tuple(region_flag(text, number, len(args.region), args.agree, args.recheck)
                    for number, text in enumerate(args.region or (), 1))
    return ServiceConfig(model=args.model, source=args.source, size=frame_size(args.size), interval_s=interval,
                         min_score=args.min_score, on_change=args.on_change, results=no_results_log(),
                         web=web_flags(args.web, args.web_token_file), regions=regions)


def region_flag(text: str, number: int, count: int, agree: int, recheck_s: float) -> RegionConfig:
    """``--region [NAME=]X,Y,W,H`` (fractions of the frame) as a ``[[region]]`` table; unnamed: ``region`` (or
    ``region<number>`` among several)."""
    from piclassify.device.config import RegionConfig
    from piclassify.device.core.regions import Box, RegionBoxError

    name, _, box = text.rpartition("=")
    name = name or ("region" if count == 1 else f"region{number}")
    try:
        x, y, w, h = (float(value) for value in box.split(","))
        Box(x, y, w, h)
    except (ValueError, RegionBoxError) as error:
        why = error if isinstance(error, RegionBoxError) else "expected four fractions X,Y,W,H"
        raise RegionError(f"--region {text[:80]!r}: {why}, e.g. 0.5,0.1,0.4,0.6") from None
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", name):
        raise RegionError(f"--region {text[:80]!r}: a name is 1-32 letters, digits, '-' or '_'")
    return RegionConfig(name=name, x=x, y=y, w=w, h=h, agree=agree, recheck_s=recheck_s)


def watched_regions(config: ServiceConfig, pipeline: Pipeline, load: Callable[[str], Pipeline]) -> Optional[Regions]:
    """The regions ``config`` watches, with their models; None: the whole frame is classified."""
    if not config.regions:
        return None
    from piclassify.device.core.regions import Regions

    return Regions.open(config.watched_regions(), pipeline, config.model, load)


def web_flags(listen: Optional[tuple[str, int]], token_file: Optional[Path]) -> WebConfig:
    """``--web [HOST:]PORT`` and ``--web-token-file`` as the ``[web]`` section; their mistakes named by the flags."""
    from piclassify.device.config import WebConfig, needs_token
    from piclassify.device.sinks.web.auth import WebError, read_token

    if listen is None:
        return WebConfig()
    host, port = listen
    if token_file is None and needs_token(host):
        raise WebError(f"--web {host}:{port}: any address but loopback needs --web-token-file "
                       "(make one with `piclassify web-token --out FILE`)")
    if token_file is not None:
        read_token(token_file, "--web-token-file")  # a bad file named by its flag, before anything is opened
    return WebConfig(enabled=True, host=host, port=port, token_file=token_file)


def no_results_log() -> ResultsConfig:
    """By hand, results go to the console (and the web view keeps the recent ones in memory), not to a log."""
    from piclassify.device.config import ResultsConfig

    return ResultsConfig(path=None)


def frame_size(text: str) -> tuple[int, int]:
    """``--size WxH``."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SourceError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    return width, height


def run_loop(config: ServiceConfig, pipeline: Pipeline, first: FrameSource, reopen: Callable[[], FrameSource],
             settings: LoopSettings, console: str, regions: Optional[Regions] = None) -> None:
    """The loop with the outputs ``config`` names and a ``console`` ("text" or "json"), until Ctrl-C, the end of
    the source or ``settings.count``; ``first`` is the source already open, ``reopen`` opens it after a fault;
    ``regions``: the watched regions (None: the whole frame)."""
    from piclassify.device.sinks.outputs import Outputs

    events: queue.SimpleQueue[str] = queue.SimpleQueue()
    loop: Optional[FrameLoop] = None
    try:
        outputs = Outputs.open(config, pipeline, events, lambda: loop, console=console, regions=regions)
    except BaseException:
        first.close()
        raise
    loop = FrameLoop(FirstThenReopen(first, reopen), pipeline, outputs.sinks, settings, events=events,
                     regions=regions)
    try:
        with signals_to_events(events):
            loop.run()
    finally:
        outputs.close()


class FirstThenReopen:
    """The loop's source opener: the source already open, then, after a camera fault, a fresh one each time."""

    def __init__(self, first: FrameSource, reopen: Callable[[], FrameSource]) -> None:
        self._first: Optional[FrameSource] = first
        self._reopen = reopen

    def __call__(self) -> FrameSource:
        first, self._first = self._first, None
        return first if first is not None else self._reopen()
