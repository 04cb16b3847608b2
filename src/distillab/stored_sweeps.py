"""Stored sweeps: the comparisons a chapter cannot afford to run live (chapters 02-04, 06, 07),
measured once at the standard profile by a command and kept as JSON in `reference/`.

Every file names its schema and the function that wrote it. Its comparisons sit under the key
"comparisons", nested as the chapter likes, each one `{arm: [run, ...]}`; `to_json` and `read` are
the one serialiser. `read` gives a chapter's own dataclass (a `Stored` with the file's fields):
comparisons as `comparison.Comparison`s, keys that JSON had to write as text ("1", "0.5") as numbers
again, so code reads attributes, never string paths. A sweep measured live goes through the same
reader (`typed`), so it has the same type as a stored one.

A file of the previous schema (2) is read through `upgrade`, which gives its renamed keys and arm
names their one spelling; `python -m distillab.stored_sweeps --upgrade FILE...` rewrites such files in
the current schema (how the files in `reference/` were converted).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from distillab import knobs, records
from distillab.profiles import Profile, get_profile
from distillab.comparison import Comparison

SCHEMA = "distillab.sweeps/3"
PREVIOUS = "distillab.sweeps/2"
# Schema 2 -> 3: the names that changed, as keys (the teacher's data cost, the rule-of-thumb FLOPs
# ratio of a step) or as arm names (wherever they appear: comparisons, records, tables).
RENAMED_FROM_PREVIOUS = {"teacher_flops": "teacher_data_flops",
                         "teacher_flops_per_trace": "teacher_data_flops_per_trace",
                         "step_cost_ratio": "step_flops_ratio", "teacher's data FLOPs": "teacher data FLOPs",
                         **records.RENAMED_ARMS}


def _renamed(node, names: dict[str, str]):
    """`node` (plain JSON) with every key and every string value found in `names` replaced."""
    if isinstance(node, dict):
        return {names.get(key, key): _renamed(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value, names) for value in node]
    return names.get(node, node) if isinstance(node, str) else node


def upgrade(stored: dict) -> dict:
    """A stored file's plain JSON in the current schema: a file of the PREVIOUS schema with its
    names changed (RENAMED_FROM_PREVIOUS), a current one as it is. Any other schema is left for
    `load` to refuse."""
    if stored.get("schema") != PREVIOUS:
        return stored
    return {**_renamed(stored, RENAMED_FROM_PREVIOUS), "schema": SCHEMA}


def _rows(node):
    """Comparisons (at any depth) to plain rows."""
    if isinstance(node, Comparison):
        return node.to_rows()
    return {key: _rows(value) for key, value in node.items()}


def student_runs(results: dict) -> int:
    """How many students just-measured results' comparisons trained (a run shown in several
    comparisons counts once); a stored file says it (`Stored.student_runs`)."""

    def runs(node):
        if isinstance(node, Comparison):
            return [run for arm_runs in node.values() for run in arm_runs]
        return [run for value in node.values() for run in runs(value)]
    return len({id(run) for run in runs(results["comparisons"])})


def writer_name(function: Callable) -> str:
    """`module.function`, with the module's real name when it runs as `python -m distillab.X`
    (where Python calls it `__main__`)."""
    module = function.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else module
    return f"{module}.{function.__qualname__}"


def to_json(results: dict, written_by: Callable) -> str:
    """`results` (with Comparisons under "comparisons") as the text of a stored sweep file, which
    also says how many students they trained ("student_runs")."""
    header = {"schema": SCHEMA, "written_by": writer_name(written_by), "student_runs": student_runs(results)}
    body = {key: _rows(value) if key == "comparisons" else value for key, value in results.items()}
    return json.dumps({**header, **body}, indent=1, default=_json_value) + "\n"


def _json_value(value):
    """What JSON cannot hold as it is: a dataclass as its fields, a number type (numpy's) as a float."""
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else float(value)


def _plain(path: Path, written_by: Callable, command: str) -> dict:
    """The plain JSON stored at `path` by `written_by`, in the current schema. A missing file, or one
    of another schema or from another function, says which `command` measures them again."""
    if not path.is_file():
        raise FileNotFoundError(f"no sweep results at {path}: run `{command}` to measure them")
    try:
        stored = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not readable JSON ({error}): it may be damaged; restore it from the "
                         f"repository or run `{command}` to measure it again") from None
    expected = writer_name(written_by)
    stored = upgrade(stored) if isinstance(stored, dict) else {}
    if stored.get("schema") != SCHEMA or stored.get("written_by") != expected:
        raise ValueError(f"{path} holds {stored.get('schema', 'an older format')} written by "
                         f"{stored.get('written_by', 'an older version')}; this version reads {SCHEMA} written by "
                         f"{expected}: run `{command}` to measure them again")
    return stored


@dataclasses.dataclass(frozen=True)
class Stored:
    """What every stored sweep file holds besides its results; a chapter's sweep class adds them."""
    schema: str
    written_by: str
    student_runs: int
    profile: str
    seeds: tuple[int, ...]
    seconds: float

    def measured_with(self, settings: str) -> str:
        """'measured at the standard profile: seeds 0, 1, 2, `settings`: 66 student runs in 35 min'."""
        minutes = self.seconds / 60
        duration = f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
        return (f"measured at the {self.profile} profile: seeds {', '.join(map(str, self.seeds))}, {settings}: "
                f"{self.student_runs} student runs in {duration}")


Kind = TypeVar("Kind")


def field_name(key: str) -> str:
    """The dataclass field that holds a file's `key`: "top-k" -> top_k, "N" -> n, "own samples" -> own_samples."""
    return re.sub(r"\W+", "_", key).strip("_").lower()


def _number(text: str, kind: type):
    """A dict key JSON wrote as text, as the number the type asks for ("0.5" -> 0.5, "3" -> 3)."""
    try:
        return kind(text) if kind in (int, float) else text
    except ValueError:
        raise ValueError(f"the key {text!r} should be a number ({kind.__name__})") from None


def typed(kind, plain):
    """Plain JSON `plain` as the type `kind`: a dataclass from an object (each key in its field, by
    `field_name`), a Comparison from its rows, dicts with their keys turned back into the numbers
    the type names, lists and tuples element by element, and numbers as numbers."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Comparison:
        return plain if isinstance(plain, Comparison) else Comparison.from_rows(plain)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        values = {field_name(key): value for key, value in plain.items()}
        missing = [f.name for f in dataclasses.fields(kind) if f.name not in values and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ValueError(f"the stored results lack {', '.join(missing)} (read as {kind.__name__})")
        return kind(**{f.name: typed(hints[f.name], values[f.name]) for f in dataclasses.fields(kind)
                       if f.name in values})
    if origin is dict:
        key_kind, value_kind = args
        return {_number(key, key_kind) if isinstance(key, str) else key: typed(value_kind, value)
                for key, value in plain.items()}
    if origin is list:
        return [typed(args[0], value) for value in plain]
    if origin is tuple:
        return tuple(typed(args[0], value) for value in plain)
    if origin in (typing.Union, types.UnionType):
        if plain is None:
            return None
        return typed(next(arg for arg in args if arg is not type(None)), plain)
    if kind is float:
        return float(plain)
    return plain


def read(path: Path, kind: type[Kind], written_by: Callable, command: str) -> Kind:
    """The results stored at `path` by `written_by`, as `kind` (a `Stored` dataclass); a missing
    file, or one of another schema or from another function, says which `command` measures them again."""
    return typed(kind, _plain(path, written_by, command))


def measured(results: dict, kind: type[Kind], written_by: Callable) -> Kind:
    """Results just measured (comparisons as Comparisons), as `kind`: through the file's own text,
    so a live sweep is exactly what `read` gives for it once stored."""
    return typed(kind, {**json.loads(to_json(results, written_by)), "comparisons": results["comparisons"]})


def load_or_measure(run_sweeps: bool, profile: Profile, measure: Callable[[Profile], dict],
                    load_stored: Callable[[], Kind], kind: type[Kind]) -> Kind:
    """A chapter's RUN_SWEEPS knob: measure the sweeps at `profile` now (long), or read the stored
    ones; either way as `kind`."""
    return measured(measure(profile), kind, measure) if knobs.flag("RUN_SWEEPS", run_sweeps) else load_stored()


def sweep_command(description: str, measure: Callable[[Profile], dict], default_out: Path,
                  argv: list[str] | None = None) -> None:
    """The command line of a sweep module: measure at --profile (default standard), write --out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args(argv)
    results = measure(get_profile(args.profile))
    args.out.write_text(to_json(results, measure))
    print(f"wrote {args.out} in {results['seconds'] / 60:.1f} min")



def upgrade_file(path: Path) -> bool:
    """Rewrite the stored file at `path` in the current schema if it is of the PREVIOUS one
    (True), else leave it as it is (False)."""
    stored = json.loads(path.read_text())
    if stored.get("schema") != PREVIOUS:
        return False
    path.write_text(json.dumps(upgrade(stored), indent=1, default=float) + "\n")
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m distillab.stored_sweeps",
                                     description=f"Rewrite stored sweep files of {PREVIOUS} in {SCHEMA}.")
    parser.add_argument("--upgrade", type=Path, nargs="+", required=True, metavar="FILE")
    for path in parser.parse_args(argv).upgrade:
        print(f"{path}: {'upgraded to ' + SCHEMA if upgrade_file(path) else 'left as it is (not ' + PREVIOUS + ')'}")


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(main, "distillab.stored_sweeps"))
