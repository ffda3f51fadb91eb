"""Watched regions of the frame: each cropped, classified only when it changed, its state steady (``watch``)."""

from piclassify.device.core.regions.region import Box, Region, RegionBoxError
from piclassify.device.core.regions.watch import NOTHING, Regions, RegionWatch, states

__all__ = ["NOTHING", "Box", "Region", "RegionBoxError", "RegionWatch", "Regions", "states"]
