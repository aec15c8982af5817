"""Calibration association in the manner of ESO's EDPS: match keys, time windows, levels.

Rules are data (:mod:`hcdc_kernel.association.rules`); the engine
(:mod:`hcdc_kernel.association.engine`) applies them and says which level matched and why.
"""

from hcdc_kernel.association.engine import (
    AssociationResult,
    Frame,
    SlotMatch,
    associate,
    group_primary,
)
from hcdc_kernel.association.rules import (
    ASSOCIATIONS,
    LEVEL_NAMES,
    AssociationRule,
    MatchKey,
    RecipeAssociation,
    association_for,
)

__all__ = [
    "ASSOCIATIONS",
    "LEVEL_NAMES",
    "AssociationResult",
    "AssociationRule",
    "Frame",
    "MatchKey",
    "RecipeAssociation",
    "SlotMatch",
    "associate",
    "association_for",
    "group_primary",
]
