#!/usr/bin/env python3
"""A fit at the example store's maximum, and its memory (a benchmark, not a test):
``.venv/bin/python scripts/bench_fit_memory.py``.

Writes 16 class folders of 500 photos each (the teach panel's store holds at most that: ``MAX_CLASSES`` x
``MAX_PER_CLASS``), each a bundled sample shifted, tinted and noised into a 640x480 JPEG of its own (the
size of a camera frame), then runs ``piclassify teach`` on them in a fresh process and prints its peak
resident memory (VmHWM) and its time. ``--classes`` and ``--per-class`` make it smaller; ``--keep DIR``
writes the photos there and keeps them for another run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from piclassify.device.commands.bench import RUN_THEN_PEAK, sample_frames
from piclassify.device.teach.examples import MAX_CLASSES, MAX_PER_CLASS


def write_photos(folder: Path, classes: int, per_class: int) -> None:
    """``classes`` folders of ``per_class`` 640x480 JPEGs: a sample each, shifted, tinted and noised per photo."""
    _, samples = sample_frames("")
    rng = np.random.default_rng(1)
    for index in range(classes):
        (folder / f"class-{index:02d}").mkdir(parents=True, exist_ok=True)
        base = samples[index % len(samples)].astype(np.int16)
        tint = rng.integers(-40, 41, 3)
        for number in range(per_class):
            shifted = np.roll(base, (int(rng.integers(-40, 41)), int(rng.integers(-40, 41))), axis=(0, 1))
            noisy = shifted + tint + rng.integers(-10, 11, shifted.shape)
            photo = cv2.cvtColor(np.clip(noisy, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(folder / f"class-{index:02d}" / f"{number:04d}.jpg"), photo,
                        [cv2.IMWRITE_JPEG_QUALITY, 90])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=MAX_CLASSES, help=f"class folders (default {MAX_CLASSES})")
    parser.add_argument("--per-class", type=int, default=MAX_PER_CLASS, help=f"photos each (default {MAX_PER_CLASS})")
    parser.add_argument("--keep", type=Path, help="write (or reuse) the photos in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="piclassify-fit-") as scratch:
        photos = args.keep or Path(scratch) / "photos"
        if not (photos / f"class-{args.classes - 1:02d}").is_dir():
            started = time.monotonic()
            write_photos(photos, args.classes, args.per_class)
            print(f"wrote {args.classes} x {args.per_class} photos of 640x480 in {time.monotonic() - started:.0f} s",
                  flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", RUN_THEN_PEAK, "teach", "big", "--from", str(photos), "--out",
                               str(Path(scratch) / "models")], capture_output=True, text=True)
        seconds = time.monotonic() - started
    lines = done.stdout.strip().splitlines()
    print("\n".join(line for line in lines if "/" not in line or line.startswith("wrote")))
    if done.returncode != 0:
        sys.exit(f"teach failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    peak_mb = int(done.stderr.split()[-1]) / 1024
    print(f"teach: {args.classes} classes x {args.per_class} photos (640x480) in {seconds:.0f} s, peak RSS "
          f"{peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
