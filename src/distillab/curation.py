"""Data selection, chapter 03: which n traces of a pool to fine-tune on (s1's ablation in
miniature). s1 kept 1,000 of 59,000 questions by quality, difficulty and diversity; here a learner
compares picking at random, the hardest problems, the longest traces and the most diverse set.
"""

from __future__ import annotations

import random

from distillab import world

RULES = ("random", "hardest", "longest", "diverse")
Trace = tuple[world.Problem, str]  # a problem and the text written for it


def problem_type(problem: world.Problem) -> tuple[int, str]:
    """What kind of problem it is: its number of steps and its pattern of adds and takes, e.g.
    (3, "+-+"). The world has 2 + 4 + 8 + 16 + 32 = 62 types (s1's "domains", in miniature)."""
    return problem.difficulty, "".join(step.sign for step in problem.steps)


def select(traces: list[Trace], n: int, rule: str = "random", seed: int = 0) -> list[Trace]:
    """`n` traces of the pool by `rule`:

    - "random": a uniform sample;
    - "hardest": the problems with the most steps;
    - "longest": the traces with the most tokens;
    - "diverse": spread over problem types, s1-style: one trace of each type in turn (types
      with many problems run out last), never the same arithmetic twice while a new one is left.

    Ties are broken by one random order drawn from `seed`, so every rule is reproducible.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(traces):
        raise ValueError(f"n must be a whole number from 1 to the pool's size ({len(traces)} traces), got {n!r}: "
                         "sample more prompts for a bigger pool")
    order = list(range(len(traces)))
    random.Random(seed).shuffle(order)
    if rule == "random":
        chosen = order[:n]
    elif rule == "hardest":
        chosen = sorted(order, key=lambda i: -traces[i][0].difficulty)[:n]  # stable: ties keep the random order
    elif rule == "longest":
        chosen = sorted(order, key=lambda i: -len(traces[i][1].split()))[:n]
    else:
        chosen = _round_robin_over_types(traces, order, n)
    return [traces[i] for i in chosen]


def _round_robin_over_types(traces: list[Trace], order: list[int], n: int) -> list[int]:
    """Deal from one queue per problem type, a new problem (unseen arithmetic) before a repeat."""
    queues: dict[tuple, list[int]] = {}
    seen: set[tuple] = set()
    repeats: list[int] = []
    for i in order:
        problem = traces[i][0]
        if problem.signature in seen:
            repeats.append(i)  # the same exercise again (common at 1 step): only once the new ones run out
        else:
            seen.add(problem.signature)
            queues.setdefault(problem_type(problem), []).append(i)
    chosen: list[int] = []
    while len(chosen) < n and any(queues.values()):
        for queue in queues.values():
            if queue and len(chosen) < n:
                chosen.append(queue.pop(0))
    return chosen + repeats[:n - len(chosen)]


def describe(traces: list[Trace]) -> dict:
    """How a selection spreads: traces per difficulty, distinct problems, problem types covered."""
    return {"by_difficulty": {d: sum(p.difficulty == d for p, _ in traces) for d in world.DIFFICULTIES},
            "distinct_problems": len({p.signature for p, _ in traces}),
            "types": len({problem_type(p) for p, _ in traces})}


def matched(pool: list[Trace], like: list[Trace], seed: int = 0) -> list[Trace]:
    """As many traces of each difficulty as `like` has, drawn at random from `pool`: the same
    amount and mix of difficulties, whatever else differs (e.g. the verifier's verdict)."""
    rng = random.Random(seed)
    wanted: dict[int, int] = {}
    for problem, _ in like:
        wanted[problem.difficulty] = wanted.get(problem.difficulty, 0) + 1
    chosen = []
    for difficulty, count in sorted(wanted.items()):
        level = [trace for trace in pool if trace[0].difficulty == difficulty]
        if count > len(level):
            raise ValueError(f"the pool has {len(level)} traces of difficulty {difficulty}, fewer than the {count} asked for")
        chosen += rng.sample(level, count)
    return chosen
