"""`make claims`: the chapters' asserted headline claims, measured under numeric variants that stand
for the learners' CPUs, written to `bench/claims.json`.

A learner's CPU sums the same floats in another order than ours (another instruction set, another
BLAS code branch), and at the course's budgets that moves a student about as far as another seed.
So each claim is measured again on this one machine under each variant, every variant in its own
process with its own fresh workspace (nothing is read back from another variant) and a student's
own fixed threads (`runtime.run_threads`). A claim the course makes holds under every variant.

    python -m distillab.claim_variants [--claims 02 03 06] [--variants default ...] [--seeds 0 1 2]

Chapter 07's claims (a 135M-parameter model, minutes per run) are not in the default list: pass
`--claims 07` in a session that has the time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from distillab import claims
from distillab.claims import Claim
from distillab.profiles import get_profile
from distillab.runtime import machine, numerics, run_threads

CLAIMS_FILE = Path(__file__).resolve().parents[2] / "bench" / "claims.json"  # in the course's repository

# Each variant is the environment a child process starts with. On a machine whose CPU has only AVX2,
# "AVX2 paths" is the default; the file records the instruction set each variant really ran.
VARIANTS = {
    "default": {},
    "AVX2 paths": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "no SIMD kernels": {"ATEN_CPU_CAPABILITY": "default"},  # torch's scalar kernels: every reduction in another order
    "MKL compatible": {"MKL_CBWR": "COMPATIBLE"},  # MKL's code branch that any x86 CPU runs
}


def chapter_02(profile, seeds) -> list[Claim]:
    from distillab import kd_experiments
    from distillab.ledger import Ledger
    from distillab.workspace import HALF_BUDGET_TEACHER

    setup = kd_experiments.prepare(HALF_BUDGET_TEACHER, "half-budget", profile)
    headline = kd_experiments.compare(setup, kd_experiments.headline_arms(setup), seeds, ledger=Ledger(profile))
    return [kd_experiments.headline_claim(headline.gain(kd_experiments.SFT, kd_experiments.KD))]


def chapter_03(profile, seeds) -> list[Claim]:
    from distillab import trace_experiments
    from distillab.ledger import Ledger
    from distillab.workspace import find_teacher

    setup = trace_experiments.prepare(*find_teacher(), profile)
    samples = setup.traces(1.0, 1)
    headline = trace_experiments.compare(setup, trace_experiments.headline_arms(setup, samples), seeds,
                                         ledger=Ledger(profile))
    return trace_experiments.headline_claims(headline, profile)


def chapter_06(profile, seeds) -> list[Claim]:
    from distillab import transfer_experiments
    from distillab.ledger import Ledger
    from distillab.workspace import find_teacher

    setup = transfer_experiments.prepare(*find_teacher(), profile)
    headline = transfer_experiments.headline(setup, setup.traces(), Ledger(profile), seeds)
    return [transfer_experiments.headline_claim(headline), transfer_experiments.falls_with_length_claim(headline)]


def chapter_07(profile, seeds) -> list[Claim]:
    from distillab import realmodel_experiments, realmodel_results
    from distillab.ledger import Ledger
    from distillab.workspace import find_teacher

    setup = realmodel_experiments.prepare(*find_teacher(), profile)
    ledger = Ledger(profile)
    before, _ = realmodel_experiments.as_it_comes(setup, ledger)
    headline = realmodel_experiments.headline(setup, realmodel_experiments.teacher_traces(setup), ledger, seeds)
    return realmodel_results.headline_claims(headline, before, realmodel_experiments.headline_arms())


CHAPTERS = {"02": chapter_02, "03": chapter_03, "06": chapter_06, "07": chapter_07}
DEFAULT_CHAPTERS = ("02", "03", "06")  # chapter 07's runs take minutes each: `--claims 07` asks for them
PRETRAINED = ("07",)  # chapters whose students are a pretrained model, trained on every thread (`runtime.run_threads`)


def claim_key(chapter: str, name: str) -> str:
    """How bench/claims.json names a chapter's claim: '02: KD beats SFT'."""
    return f"{chapter}: {name}"


def measure_here(chapter: str, profile_name: str, seeds: tuple[int, ...]) -> dict:
    """In a child process: the chapter's claims under this process's numerics, as plain JSON."""
    profile = get_profile(profile_name)
    found = CHAPTERS[chapter](profile, seeds)
    return {"numerics": numerics(run_threads(pretrained=chapter in PRETRAINED)),
            "claims": {claim_key(chapter, claim.name): claim.summary() | {"describe": claim.describe()} for claim in found}}


def measure_variant(chapter: str, variant: str, profile_name: str, seeds: tuple[int, ...]) -> dict:
    """The chapter's claims measured in a fresh process with `variant`'s environment and a fresh workspace."""
    with tempfile.TemporaryDirectory(prefix="distillab-claims-") as home:
        environment = {**os.environ, **VARIANTS[variant], "DISTILLAB_HOME": home, claims.STRICT_ENV: "0"}
        with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
            command = [sys.executable, "-m", "distillab.claim_variants", "--child", chapter, "--profile", profile_name,
                       "--seeds", *map(str, seeds), "--out", out.name]
            start = time.perf_counter()
            done = subprocess.run(command, env=environment)
            if done.returncode != 0:
                raise ChildProcessError(f"chapter {chapter}'s claims under the variant {variant!r} ended with exit "
                                        f"code {done.returncode} (its output is above)")
            result = json.loads(Path(out.name).read_text())
    result["seconds"] = time.perf_counter() - start
    return result


def measure(chapters: list[str], variants: list[str], profile_name: str, seeds: tuple[int, ...],
            out: Path = CLAIMS_FILE, again: bool = False) -> dict:
    """Every claim of `chapters` under every variant; written to `out` after each variant. A run
    stopped halfway keeps what it measured, and the next one with the same profile, seeds, machine
    and torch measures only what is missing (`again` measures everything)."""
    results = {"profile": profile_name, "seeds": list(seeds), "machine": machine(), "torch": torch.__version__,
               "variants": {name: VARIANTS[name] for name in variants}, "claims": {}, "seconds": {}}
    before = json.loads(out.read_text()) if out.is_file() and not again else {}
    if all(before.get(key) == results[key] for key in ("profile", "seeds", "machine", "torch")):
        results["claims"], results["seconds"] = before["claims"], before["seconds"]
        measured = {key.split(", ", 1)[1] for key in before["seconds"]}
        results["variants"] = {**{name: env for name, env in before["variants"].items() if name in measured},
                               **results["variants"]}
    for chapter in chapters:
        for variant in variants:
            if f"{chapter}, {variant}" in results["seconds"]:
                print(f"chapter {chapter}, variant {variant!r}: measured already, in {out}", flush=True)
                continue
            print(f"chapter {chapter}, variant {variant!r} ...", flush=True)
            measured = measure_variant(chapter, variant, profile_name, seeds)
            results["seconds"][f"{chapter}, {variant}"] = measured["seconds"]
            for name, summary in measured["claims"].items():
                entry = results["claims"].setdefault(name, {"variants": {}})
                entry["variants"][variant] = summary | {"numerics": measured["numerics"]}
                print(f"  {summary['describe']}: {'holds' if summary['holds'] else 'DOES NOT HOLD'}", flush=True)
            _write(results, out)
    _write(results, out)
    return results


def every_variant(name: str, path: Path = CLAIMS_FILE) -> dict[str, Claim]:
    """What `path` holds of the claim `name`, variant by variant, as claims (each with its own
    seeds' effects and rule); empty when the file or the claim is not there."""
    if not path.is_file():
        return {}
    found = json.loads(path.read_text()).get("claims", {}).get(name, {}).get("variants", {})
    return {variant: Claim(name, tuple(entry["seed_numbers"]), tuple(entry["seeds"]), margin=entry["margin"],
                           rule=entry["rule"], unit=entry["unit"]) for variant, entry in found.items()}


def seeds_report(chapter: str, claim: Claim, path: Path = CLAIMS_FILE) -> str:
    """The power calculation for chapter `chapter`'s `claim`, from every seed under every variant in
    `path`: how many seeds its 95 % lower bound would need to reach the claim's margin in 4 runs out
    of 5, with a learner's run taken as one draw of seed and CPU together (pooled), and under the
    weakest variant alone. One paragraph, beside the seeds this run used."""
    variants = every_variant(claim_key(chapter, claim.name), path)
    name = claim.name
    if not variants:
        return (f"The seeds a claim needs come from `make claims`, which has not measured chapter {chapter}'s "
                f"claim {name!r} on this copy of the course ({path} holds no such claim).")
    first = next(iter(variants.values()))
    pooled = Claim(name, tuple(s for c in variants.values() for s in c.seeds),
                   tuple(e for c in variants.values() for e in c.effects), margin=first.margin, unit=first.unit)
    weakest_name, weakest = min(variants.items(), key=lambda item: item[1].mean)

    def needs(claim: Claim) -> str:
        n = claim.seeds_needed()
        return "more than 30 seeds" if n is None else f"{n} seeds"

    return (f"How many seeds does the interval need? Over {len(first.effects)} seeds under each of {len(variants)} "
            f"numeric variants ({', '.join(variants)}), the course measured {name!r} at {pooled.mean:+.1f} {pooled.unit} on "
            f"average with a spread of {pooled.spread:.1f} from one run to the next. For the 95 % lower bound to "
            f"reach {pooled.margin:+.1f} in 4 runs of the chapter out of 5 takes {needs(pooled)} (under the "
            f"weakest variant, {weakest_name!r} at {weakest.mean:+.1f} ± {weakest.spread:.1f}: {needs(weakest)}). "
            f"This run used {len(claim.effects)}.")


def _write(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


def table(results: dict) -> str:
    """Claim x variant: the mean, the lower bound and whether it holds."""
    variants = list(results["variants"])
    lines = ["| claim | " + " | ".join(variants) + " |", "|---" * (len(variants) + 1) + "|"]
    for name, entry in results["claims"].items():
        cells = []
        for variant in variants:
            found = entry["variants"].get(variant)
            if found is None:
                cells.append("not run")
                continue
            bound = "—" if found["lower_bound"] is None else f"{found['lower_bound']:+.1f}"
            cells.append(f"{found['mean']:+.1f} (≥ {bound}) {'holds' if found['holds'] else 'FAILS'}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the chapters' claims under numeric variants (bench/claims.json).")
    parser.add_argument("--claims", nargs="+", default=list(DEFAULT_CHAPTERS), choices=list(CHAPTERS), metavar="CHAPTER",
                        help=f"the chapters whose claims to measure: {', '.join(CHAPTERS)} (default "
                             f"{' '.join(DEFAULT_CHAPTERS)})")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT",
                        help=f"the numeric variants: {', '.join(VARIANTS)}")
    parser.add_argument("--profile", default="standard", choices=["fast", "standard"])
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the profile's")
    parser.add_argument("--out", type=Path, default=CLAIMS_FILE)
    parser.add_argument("--again", action="store_true", help="measure every variant again, even those --out holds")
    parser.add_argument("--child", choices=list(CHAPTERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    seeds = tuple(args.seeds) if args.seeds else get_profile(args.profile).seeds
    if args.child:
        args.out.write_text(json.dumps(measure_here(args.child, args.profile, seeds)))
        return 0
    results = measure(args.claims, args.variants, args.profile, seeds, args.out, args.again)
    print(table(results))
    failed = [f"{name} under {variant!r}" for name, entry in results["claims"].items()
              for variant, found in entry["variants"].items() if not found["holds"] and variant in args.variants]
    if failed:
        print(f"make claims: {len(failed)} claim(s) did not hold: {'; '.join(failed)} (written to {args.out})",
              file=sys.stderr)
        return 1
    print(f"every claim held under every variant; written to {args.out}")
    return 0


if __name__ == "__main__":
    from distillab.runtime import run_command

    sys.exit(run_command(lambda: main(), "python -m distillab.claim_variants"))
