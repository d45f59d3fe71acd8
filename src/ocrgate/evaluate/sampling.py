"""`--limit N`: a sample spread over sources and document types, the same for the same seed.

Stratified sampling with equal allocation: the pages are grouped into strata by (`source`, `doc_type`);
each stratum is shuffled with the seed, then the strata give one page each in turn (round robin, in an
order also drawn with the seed) until N pages are taken. With N at least the number of strata every
source and document type is in the sample; a stratum that runs out leaves its turns to the others.
The sample keeps the manifest's order, so the report and `results.jsonl` read as the manifest does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from ocrgate.evaluate.datasets import EvalPage


def stratified_sample(pages: Sequence[EvalPage], n: int, seed: int = 0) -> list[EvalPage]:
    """`n` of `pages` spread evenly over (`source`, `doc_type`) strata (all of them when `n` >= their
    number), drawn with `random.Random(seed)`: the same pages for the same `pages`, `n` and `seed`.

    Raises ValueError when `n` < 1.
    """
    if n < 1:
        raise ValueError(f"sample size must be at least 1, not {n}")
    if n >= len(pages):
        return list(pages)
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[int]] = {}
    for position, page in enumerate(pages):
        strata.setdefault((page.source, page.doc_type), []).append(position)
    queues = [strata[key] for key in sorted(strata)]  # sorted: independent of dict and hash order
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    chosen: list[int] = []
    while len(chosen) < n:
        for queue in queues:
            if queue and len(chosen) < n:
                chosen.append(queue.pop())
    return [pages[i] for i in sorted(chosen)]
