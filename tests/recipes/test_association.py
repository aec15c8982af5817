"""Association rules: EDPS levels, match keys and closest-in-time choice, known answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hcdc_kernel.association import Frame, associate, association_for, group_primary
from hcdc_kernel.association.rules import DIT, FILTER, AssociationRule
from hcdc_kernel.frames.info import observation_night

SCIENCE_TIME = datetime(2019, 5, 28, 3, 0)


def frame(fid, frame_type, when, *, dit=16.0, filt="DB_H23", obs_id=1, obj="HD 95086"):
    return Frame(
        id=fid,
        frame_type=frame_type,
        date_obs=when,
        obs_night=observation_night(when),
        dit=dit,
        instrument_filter=filt,
        obs_id=obs_id,
        object=obj,
    )


SCIENCE = (frame(1, "IRD_SCIENCE_DBI_RAW", SCIENCE_TIME),)
RULE = AssociationRule("IRD_MASTER_DARK_FILE", ("IRD_MASTER_DARK",), match=(DIT, FILTER))


def test_level_0_same_night_wins_over_a_closer_frame_of_another_night():
    same_night = frame(10, "IRD_MASTER_DARK", datetime(2019, 5, 27, 23, 0))  # night 05-27, 4 h
    next_night = frame(11, "IRD_MASTER_DARK", datetime(2019, 5, 28, 13, 30))  # night 05-28
    assert same_night.obs_night == date(2019, 5, 27) == SCIENCE[0].obs_night
    result = associate("r", SCIENCE, [next_night, same_night], [RULE])
    slot = result.slots[0]
    assert [f.id for f in slot.frames] == [10]
    assert slot.level == 0
    assert slot.reason.startswith("level 0 (same night)")
    assert "DIT=16.00" in slot.reason
    assert "filter=DB_H23" in slot.reason


def test_levels_1_2_and_3_by_distance_in_nights():
    expected = {1: 1, 4: 2, 30: 3}
    for days, level in expected.items():
        cal = frame(20, "IRD_MASTER_DARK", SCIENCE_TIME + timedelta(days=days))
        slot = associate("r", SCIENCE, [cal], [RULE]).slots[0]
        assert slot.level == level, days
        assert f"level {level}" in slot.reason


def test_level_2_window_is_configurable():
    cal = frame(20, "IRD_MASTER_DARK", SCIENCE_TIME + timedelta(days=4))
    narrow = AssociationRule("D", ("IRD_MASTER_DARK",), match=(DIT,), window_days=3)
    slot = associate("r", SCIENCE, [cal], [narrow]).slots[0]
    assert slot.level == 3


def test_match_keys_exclude_and_dit_is_rounded_to_centiseconds():
    wrong_filter = frame(30, "IRD_MASTER_DARK", SCIENCE_TIME, filt="DB_K12")
    wrong_dit = frame(31, "IRD_MASTER_DARK", SCIENCE_TIME, dit=32.0)
    rounded = frame(32, "IRD_MASTER_DARK", SCIENCE_TIME + timedelta(days=2), dit=16.004)
    slot = associate("r", SCIENCE, [wrong_filter, wrong_dit, rounded], [RULE]).slots[0]
    assert [f.id for f in slot.frames] == [32]
    assert slot.level == 2


def test_nothing_matching_says_what_was_looked_for():
    result = associate("r", SCIENCE, [frame(40, "IRD_MASTER_DARK", SCIENCE_TIME, dit=1.0)], [RULE])
    assert not result.complete
    assert result.missing == ("IRD_MASTER_DARK_FILE",)
    assert result.slots[0].reason == "no IRD_MASTER_DARK with DIT=16.00, filter=DB_H23 at any time"


def test_max_level_refuses_too_distant_calibrations_with_the_best_level_seen():
    sky_rule = association_for("sph_ird_science_dbi").calibrations[-1]
    assert sky_rule.tag == "IRD_SKY_BG_RAW"
    far_sky = frame(50, "IRD_SKY_RAW", SCIENCE_TIME + timedelta(days=1))
    slot = associate("r", SCIENCE, [far_sky], [sky_rule]).slots[0]
    assert slot.frames == ()
    assert "best: level 1" in slot.reason
    assert not slot.required


def test_closest_night_takes_the_whole_calibration_set():
    rule = AssociationRule(
        "SKY", ("IRD_SKY_RAW",), match=(DIT,), select="closest_night", count=None
    )
    skies = [
        frame(60 + i, "IRD_SKY_RAW", SCIENCE_TIME + timedelta(minutes=10 * i)) for i in range(3)
    ]
    other_night = frame(70, "IRD_SKY_RAW", SCIENCE_TIME + timedelta(days=1))
    slot = associate("r", SCIENCE, [*skies, other_night], [rule]).slots[0]
    assert sorted(f.id for f in slot.frames) == [60, 61, 62]


def test_closest_in_time_within_the_level():
    early = frame(80, "IRD_MASTER_DARK", SCIENCE_TIME - timedelta(hours=3))
    late = frame(81, "IRD_MASTER_DARK", SCIENCE_TIME + timedelta(hours=1))
    slot = associate("r", SCIENCE, [early, late], [RULE]).slots[0]
    assert [f.id for f in slot.frames] == [81]
    assert "closest 1.0 h away" in slot.reason


def test_primary_frames_group_by_night_and_keys():
    darks = [
        frame(1, "NACO_IMG_DARK_RAW", SCIENCE_TIME, dit=0.2),
        frame(2, "NACO_IMG_DARK_RAW", SCIENCE_TIME + timedelta(minutes=1), dit=0.2),
        frame(3, "NACO_IMG_DARK_RAW", SCIENCE_TIME, dit=1.0),
        frame(4, "NACO_IMG_DARK_RAW", SCIENCE_TIME + timedelta(days=3), dit=0.2),
    ]
    groups = group_primary(darks, association_for("naco_img_dark").group_by)
    assert [[f.id for f in g] for g in groups] == [[1, 2], [3], [4]]
