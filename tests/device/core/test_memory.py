"""Large blocks go back to the system when freed (device/core/memory.py): bursts of uploads must not stay."""

import platform

import pytest

from piclassify.device.core.memory import return_large_blocks


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the threshold is glibc's")
def test_glibc_takes_the_fixed_threshold_for_large_blocks():
    assert return_large_blocks() is True
