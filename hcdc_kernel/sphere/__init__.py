"""SPHERE/IRDIS reduction in Python: calibrations, pre-processing, star centre, angles, PSF.

hcdc reduces IRDIS dual-band (DBI) and classical (CI) imaging without ESO's SPHERE esorex
plugin, following the steps of the SPHERE consortium's pipeline (Maire et al. 2016, SPIE 9908;
Vigan 2020, ``vlt-sphere``, ascl:2009.002):

1. :func:`master_dark_from_files` (darks, instrument backgrounds, skies per DIT) and
   :func:`detector_flat_from_files` (lamp flats per filter), with their bad pixels;
2. :func:`preprocess_exposure`: background subtraction, flat division, bad-pixel
   interpolation, NDIT handling, split into the two fields with their wavelengths;
3. :func:`exposure_star_centres` from the waffle spots, :func:`recentre_fields`;
   :func:`parallactic_angles` and :func:`derotation_angles`;
4. :func:`exposure_off_axis_psf`: PSF and star flux from the flux frames, corrected for the
   DIT and the neutral density.
"""

from hcdc_kernel.sphere.angles import (
    ParallacticAngles,
    derotation_angles,
    frame_times,
    parallactic_angle,
    parallactic_angles,
    pointing_parallactic_angles,
)
from hcdc_kernel.sphere.calibration import (
    DetectorFlat,
    MasterDark,
    combine_bad_pixels,
    detector_flat,
    detector_flat_from_files,
    master_dark,
    master_dark_from_files,
)
from hcdc_kernel.sphere.centring import (
    ChannelCentre,
    WaffleCentres,
    exposure_star_centres,
    recentre_fields,
    waffle_star_centres,
)
from hcdc_kernel.sphere.errors import CalibrationMismatchError, KeywordError, SphereDataError
from hcdc_kernel.sphere.exposures import RawExposure, read_exposure
from hcdc_kernel.sphere.filters import (
    FilterChannel,
    filter_channels,
    lambda_over_d_px,
    nd_transmission,
)
from hcdc_kernel.sphere.photometry import (
    ChannelPsf,
    OffAxisPsf,
    exposure_off_axis_psf,
    off_axis_psf,
)
from hcdc_kernel.sphere.preprocessing import (
    PreprocessedExposure,
    correct_bad_pixels,
    preprocess_exposure,
    select_background,
    split_fields,
)

__all__ = [
    "CalibrationMismatchError",
    "ChannelCentre",
    "ChannelPsf",
    "DetectorFlat",
    "FilterChannel",
    "KeywordError",
    "MasterDark",
    "OffAxisPsf",
    "ParallacticAngles",
    "PreprocessedExposure",
    "RawExposure",
    "SphereDataError",
    "WaffleCentres",
    "combine_bad_pixels",
    "correct_bad_pixels",
    "derotation_angles",
    "detector_flat",
    "detector_flat_from_files",
    "exposure_off_axis_psf",
    "exposure_star_centres",
    "filter_channels",
    "frame_times",
    "lambda_over_d_px",
    "master_dark",
    "master_dark_from_files",
    "nd_transmission",
    "off_axis_psf",
    "parallactic_angle",
    "parallactic_angles",
    "pointing_parallactic_angles",
    "preprocess_exposure",
    "read_exposure",
    "recentre_fields",
    "select_background",
    "split_fields",
    "waffle_star_centres",
]
