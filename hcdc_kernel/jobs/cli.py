"""``hcdc-job run <spec.json>``: the command every executor runs (kept light to start fast)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; the exit status says how the job ended (see ``hcdc_kernel.jobs.runner``)."""
    parser = argparse.ArgumentParser(prog="hcdc-job", description="Run one hcdc job.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the job described by a spec.json")
    run.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    from hcdc_kernel.jobs.runner import EXIT_USAGE, run_job

    if not args.spec.is_file():
        print(f"hcdc-job: no job spec at {args.spec}", file=sys.stderr)
        return EXIT_USAGE
    return run_job(args.spec)


if __name__ == "__main__":
    sys.exit(main())
