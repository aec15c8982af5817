"""FITS header model: frame classification, observation night, header-derived fields."""

from hcdc_kernel.frames.header_io import FitsFormatError, parse_header, read_header_file
from hcdc_kernel.frames.info import (
    FrameInfo,
    classify,
    frame_info_from_header,
    observation_night,
    read_frame_info,
)
from hcdc_kernel.frames.rules import (
    ACQUISITION,
    FRAME_RULES,
    FRAME_TYPES,
    SPARTA,
    UNKNOWN,
    eso_tag_for,
)

__all__ = [
    "ACQUISITION",
    "FRAME_RULES",
    "FRAME_TYPES",
    "SPARTA",
    "UNKNOWN",
    "FitsFormatError",
    "FrameInfo",
    "classify",
    "eso_tag_for",
    "frame_info_from_header",
    "observation_night",
    "parse_header",
    "read_frame_info",
    "read_header_file",
]
