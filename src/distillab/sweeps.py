"""Stored sweep results: the comparisons a chapter cannot afford to run live (chapters 02-03),
measured once at the standard profile by a command and kept as JSON in `reference/`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from distillab.profiles import Profile, get_profile


def load_stored(path: Path, command: str) -> dict:
    """The results stored at `path`; a missing file says which `command` measures them."""
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path}: run `{command}` to measure them")
    return json.loads(path.read_text())


def sweep_command(description: str, measure: Callable[[Profile], dict], default_out: Path,
         argv: list[str] | None = None) -> None:
    """The command line of a sweep module: measure at --profile (default standard), write --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    results = measure(get_profile(args.profile))
    args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"wrote {args.out} in {results['seconds'] / 60:.1f} min")
