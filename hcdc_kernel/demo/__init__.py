"""Synthetic and packaged demo data for hcdc: SPHERE/IRDIS nights and the NACO beta Pic set."""

from hcdc_kernel.demo.naco import write_naco_betapic
from hcdc_kernel.demo.nights import (
    DemoManifest,
    InjectedCompanion,
    demo_detector,
    read_companions,
    write_demo_nights,
)

__all__ = [
    "DemoManifest",
    "InjectedCompanion",
    "demo_detector",
    "read_companions",
    "write_demo_nights",
    "write_naco_betapic",
]
