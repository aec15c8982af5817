"""Primary headers of synthetic SPHERE/IRDIS raw files, keyword for keyword as ESO writes them.

Values follow real IRDIS DBI files (e.g. ``INS COMB ICOR = 'N_ALC_YJH_S'``,
``INS1 OPTI2 NAME = 'D_H23'``, ``DPR TECH = 'IMAGE,DUAL,CORONOGRAPHY'``); the keyword list is
the one the SPHERE consortium's ``vlt-sphere`` pipeline and the ESO archive read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from astropy.io import fits
from astropy.time import Time

from hcdc_kernel.demo.ephemeris import (
    PARANAL_ELEVATION_M,
    PARANAL_LATITUDE_DEG,
    PARANAL_LONGITUDE_DEG,
)
from hcdc_kernel.demo.plan import DPR, Exposure, FrameKind, NightSetup

#: ESO's daily-calibration programme and the observation block of the morning calibrations.
CALIBRATION_PROG_ID = "60.A-9801(S)"
CALIBRATION_OBS_ID = 200288861

_TEMPLATES = {
    FrameKind.ACQUISITION: ("SPHERE_irdis_acq", "SPHERE IRDIS acquisition"),
    FrameKind.FLUX: ("SPHERE_irdis_dbi_obs", "SPHERE IRDIS observation DBI submode"),
    FrameKind.CENTER: ("SPHERE_irdis_dbi_obs", "SPHERE IRDIS observation DBI submode"),
    FrameKind.SCIENCE: ("SPHERE_irdis_dbi_obs", "SPHERE IRDIS observation DBI submode"),
    FrameKind.SKY: ("SPHERE_irdis_dbi_obs", "SPHERE IRDIS observation DBI submode"),
    FrameKind.DARK: ("SPHERE_irdis_cal_dark", "SPHERE IRDIS dark calibration"),
    FrameKind.BACKGROUND: ("SPHERE_irdis_cal_bkg", "SPHERE IRDIS instrument background"),
    FrameKind.FLAT: ("SPHERE_irdis_cal_flat", "SPHERE IRDIS lamp flat"),
}


@dataclass(frozen=True)
class Pointing:
    """Telescope state at the start and end of an on-sky exposure (degrees, seconds)."""

    parang_start: float
    parang_end: float
    airmass_start: float
    airmass_end: float
    altitude: float
    azimuth: float
    lst_seconds: float
    seeing_start: float
    seeing_end: float
    tau0: float
    ra_deg: float
    dec_deg: float


def add_card(header: fits.Header, key: str, value: object, comment: str = "") -> None:
    """Append a card, shortening its comment to fit the 80-character record as ESO does."""
    bare = len(fits.Card(key, value).image.rstrip())
    room = max(0, 80 - bare - 3)
    header.append(fits.Card(key, value, comment[:room] if room else ""))


def iso_date(when: datetime) -> str:
    """DATE-OBS as ESO writes it: ISO 8601 with four decimals of a second."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-2]


def archive_name(when: datetime) -> str:
    """ESO archive file name (``ARCFILE``): ``SPHER.<UTC to the millisecond>.fits``."""
    return f"SPHER.{when.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}.fits"


def _sexagesimal_float(value_deg: float, *, hours: bool) -> float:
    """ESO's packed ``hhmmss.sss`` / ``±ddmmss.ss`` encoding (``INS4 DROT2 RA/DEC``)."""
    value = abs(value_deg) / (15.0 if hours else 1.0)
    whole = int(value)
    minutes = int((value - whole) * 60)
    seconds = ((value - whole) * 60 - minutes) * 60
    packed = whole * 10000 + minutes * 100 + seconds
    return round(-packed if value_deg < 0 else packed, 3)


def irdis_header(
    setup: NightSetup,
    exposure: Exposure,
    *,
    origfile: str,
    pointing: Pointing | None,
) -> fits.Header:
    """Primary header of one IRDIS raw file.

    ``pointing`` is None for daytime calibrations, whose headers then carry no telescope
    keywords (RA, DEC, TEL ...), as hcdc must cope with.
    """
    dpr = DPR[exposure.kind]
    start = Time(exposure.start, scale="utc")
    calibration = not exposure.on_sky
    header = fits.Header()

    def card(entry: tuple[str, object, str]) -> None:
        add_card(header, *entry)

    card(("TELESCOP", "ESO-VLT-U3", "ESO Telescope Name"))
    card(("INSTRUME", "SPHERE", "Instrument used."))
    card(("OBJECT", dpr.type if calibration else setup.target.object_name, "Original target."))
    if pointing is not None:
        card(("RA", round(pointing.ra_deg, 6), "[deg] Telescope pointing RA (J2000)"))
        card(("DEC", round(pointing.dec_deg, 5), "[deg] Telescope pointing DEC (J2000)"))
        card(("EQUINOX", 2000.0, "Standard FK5 (years)"))
        card(("RADECSYS", "FK5", "Coordinate reference frame"))
    card(("EXPTIME", round(exposure.dit * exposure.ndit, 4), "Integration time"))
    card(("MJD-OBS", round(float(start.mjd), 8), "Obs start"))
    card(("DATE-OBS", iso_date(exposure.start), "Observing date"))
    card(
        (
            "UTC",
            round(
                exposure.start.hour * 3600
                + exposure.start.minute * 60
                + exposure.start.second
                + exposure.start.microsecond / 1e6,
                3,
            ),
            "[s] UTC at start",
        )
    )
    if pointing is not None:
        card(("LST", round(pointing.lst_seconds, 3), "[s] Local sidereal time at start"))
    card(("OBSERVER", "UNKNOWN", "Name of observer"))
    card(("ORIGIN", "ESO-PARANAL", "European Southern Observatory"))
    card(("PI-COI", "UNKNOWN" if calibration else setup.pi_coi, "PI-COI name."))
    card(("ARCFILE", archive_name(exposure.start), "Archive File Name"))
    card(("ORIGFILE", origfile, "Original File Name"))
    card(("DATE", iso_date(exposure.end)[:19], "Date the file was written"))

    def eso(key: str, value: object, comment: str = "") -> None:
        add_card(header, f"HIERARCH ESO {key}", value, comment)

    eso(
        "OBS PROG ID",
        CALIBRATION_PROG_ID if calibration else setup.prog_id,
        "ESO program identification",
    )
    eso("OBS ID", CALIBRATION_OBS_ID if calibration else setup.obs_id, "Observation block ID")
    eso("OBS NAME", "Calibration" if calibration else setup.obs_name, "OB name")
    eso("OBS TARG NAME", "" if calibration else setup.target.targ_name, "OB target name")
    eso("OBS PI-COI NAME", "UNKNOWN" if calibration else setup.pi_coi, "PI-COI name")
    tpl_id, tpl_name = _TEMPLATES[exposure.kind]
    eso("TPL ID", tpl_id, "Template signature ID")
    eso("TPL NAME", tpl_name, "Template name")
    eso("TPL EXPNO", exposure.expno, "Exposure number within template")
    eso("TPL NEXP", exposure.nexp, "Number of exposures within template")
    eso("DPR CATG", dpr.catg, "Observation category")
    eso("DPR TYPE", dpr.type, "Observation type")
    eso("DPR TECH", dpr.tech, "Observation technique")
    eso("SEQ ARM", "IRDIS", "Name of the sub-system.")
    eso("DET ID", "IRDIS", "Detector system Id")
    eso("DET NDIT", exposure.ndit, "# of Sub-Integrations")
    eso("DET SEQ1 DIT", exposure.dit, "[s] Integration time")
    eso(
        "DET SEQ1 EXPTIME",
        round(exposure.ndit * exposure.dit_period_s, 4),
        "[s] Exposure Sequence Time",
    )
    eso("DET DITDELAY", 0.0, "[s] Delay between integrations")
    eso("DET READ CURNAME", "Nondest", "Used readout mode name")
    eso("DET FRAM UTC", iso_date(exposure.end), "Time Recv Frame")

    coronagraphic = exposure.kind in (FrameKind.SCIENCE, FrameKind.CENTER, FrameKind.SKY)
    eso(
        "INS COMB ICOR",
        "N_ALC_YJH_S" if coronagraphic else "N_NS_CLEAR",
        "Infra-Red coronograph combination name.",
    )
    eso("INS COMB IFLT", "DB_H23", "Infra-Red filter combination name.")
    eso("INS COMB POLA", "", "Polarisation combination name.")
    eso("INS1 MODE", "DBI", "Instrument mode used.")
    eso("INS1 FILT NAME", "B_H", "IRDIS filter name.")
    eso("INS1 OPTI1 NAME", "ST_ALC2", "IRDIS Lyot stop.")
    eso("INS1 OPTI2 NAME", "D_H23", "IRDIS Dual Filter.")
    eso("INS4 FILT2 NAME", exposure.nd_filter, "CPI infrared neutral density.")
    eso("INS4 COMB ROT", "STAT" if calibration else "PUPIL", "Assembly for derotator and ADC modes")
    eso("INS4 DROT2 MODE", "STAT" if calibration else "ELEV", "Derotator mode")
    eso("INS4 DROT2 POSANG", 0.0, "[deg] Derotator position angle")
    if pointing is not None:
        eso("INS4 DROT2 RA", _sexagesimal_float(pointing.ra_deg, hours=True), "~~ RA (hhmmss.sss)")
        eso(
            "INS4 DROT2 DEC",
            _sexagesimal_float(pointing.dec_deg, hours=False),
            "~~ DEC (ddmmss.sss)",
        )
    if exposure.kind is FrameKind.CENTER:
        eso("OCS WAFFLE AMPL", 0.025, "User defined waffle amplitude")
        eso("OCS WAFFLE ORIENT", "x", "User defined waffle orientation")

    if pointing is not None:
        eso("TEL GEOLAT", PARANAL_LATITUDE_DEG, "[deg] Tel geo latitude (+=North)")
        eso("TEL GEOLON", PARANAL_LONGITUDE_DEG, "[deg] Tel geo longitude (+=East)")
        eso("TEL GEOELEV", PARANAL_ELEVATION_M, "[m] Elevation above sea level")
        eso("TEL ALT", round(pointing.altitude, 3), "[deg] Alt angle at start")
        eso("TEL AZ", round(pointing.azimuth, 3), "[deg] Az angle at start (S=0,W=90)")
        eso("TEL AIRM START", round(pointing.airmass_start, 3), "Airmass at start")
        eso("TEL AIRM END", round(pointing.airmass_end, 3), "Airmass at end")
        eso("TEL PARANG START", round(pointing.parang_start, 3), "[deg] Parallactic angle at start")
        eso("TEL PARANG END", round(pointing.parang_end, 3), "[deg] Parallactic angle at end")
        eso(
            "TEL AMBI FWHM START",
            round(pointing.seeing_start, 2),
            "[arcsec] Observatory Seeing queried from AS",
        )
        eso(
            "TEL AMBI FWHM END",
            round(pointing.seeing_end, 2),
            "[arcsec] Observatory Seeing queried from AS",
        )
        eso("TEL AMBI TAU0", round(pointing.tau0, 6), "[s] Average coherence time")
    return header
