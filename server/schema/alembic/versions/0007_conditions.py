"""AO telemetry and site-monitor conditions: imports, samples, per-frame conditions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_STATS = (
    "seeing",
    "tau0",
    "strehl",
    "wind_speed",
    "r0",
    "humidity",
    "wfs_flux",
    "dtts_flux",
    "dtts_x",
    "dtts_y",
)
_INDEXED = ("seeing", "tau0", "strehl")


def upgrade() -> None:
    op.create_table(
        "condition_imports",
        sa.Column("id", _ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("data_file_id", _ID, nullable=True),
        sa.Column("time_start", sa.DateTime(), nullable=True),
        sa.Column("time_end", sa.DateTime(), nullable=True),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_file_id"],
            ["data_files.id"],
            name=op.f("fk_condition_imports_data_file_id_data_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_condition_imports")),
        sa.UniqueConstraint("checksum", name=op.f("uq_condition_imports_checksum")),
    )
    op.create_index(
        op.f("ix_condition_imports_data_file_id"),
        "condition_imports",
        ["data_file_id"],
        unique=False,
    )
    op.create_table(
        "condition_samples",
        sa.Column("id", _ID, nullable=False),
        sa.Column("import_id", _ID, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("parameter", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["condition_imports.id"],
            name=op.f("fk_condition_samples_import_id_condition_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_condition_samples")),
    )
    op.create_index(
        op.f("ix_condition_samples_import_id"), "condition_samples", ["import_id"], unique=False
    )
    op.create_index(
        "ix_condition_samples_parameter_at", "condition_samples", ["parameter", "at"], unique=False
    )
    stats = []
    for name in _STATS:
        stats += [sa.Column(name, sa.Float(), nullable=True)]
        stats += [sa.Column(f"{name}_std", sa.Float(), nullable=True)]
    op.create_table(
        "frame_conditions",
        sa.Column("data_file_id", _ID, nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=True),
        sa.Column("window_end", sa.DateTime(), nullable=True),
        *stats,
        sa.Column("airmass", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["data_file_id"],
            ["data_files.id"],
            name=op.f("fk_frame_conditions_data_file_id_data_files"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("data_file_id", name=op.f("pk_frame_conditions")),
    )
    for name in _INDEXED:
        op.create_index(
            op.f(f"ix_frame_conditions_{name}"), "frame_conditions", [name], unique=False
        )
    # SPHERE's OBJECT,AO files were acquisition frames until hcdc read them as SPARTA telemetry
    # (``hcdc conditions relink`` then reads the ones already stored).
    op.execute(
        sa.text(
            "UPDATE data_files SET frame_type = 'SPH_SPARTA_RAW' WHERE frame_type = 'ACQUISITION'"
            " AND dpr_type = 'OBJECT,AO' AND instrument = 'SPHERE'"
        )
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE data_files SET frame_type = 'ACQUISITION' WHERE frame_type = 'SPH_SPARTA_RAW'"
        )
    )
    for name in _INDEXED:
        op.drop_index(op.f(f"ix_frame_conditions_{name}"), table_name="frame_conditions")
    op.drop_table("frame_conditions")
    op.drop_index("ix_condition_samples_parameter_at", table_name="condition_samples")
    op.drop_index(op.f("ix_condition_samples_import_id"), table_name="condition_samples")
    op.drop_table("condition_samples")
    op.drop_index(op.f("ix_condition_imports_data_file_id"), table_name="condition_imports")
    op.drop_table("condition_imports")
