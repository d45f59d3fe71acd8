"""What `ocrgate eval` checks before its first page, and how it tells the failures after its last.

Before: every backend name is known (in this process: the registry; through a gateway: the gateway's
own answer to `OCRGateClient.check`, which also says whether it takes the API key given). After: each
backend whose pages failed gets one line (how many, the causes, the first error), so a run that
evaluated nothing is never mistaken for one that did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import httpx

from ocrgate.errors import BackendError, BackendUnavailable, InputError, OCRGateError, Unauthorized
from ocrgate.evaluate.runner import PageRecord, backend_variant


def check_backends(names: Sequence[str], via: str | None = None, api_key: str | None = None) -> None:
    """Raise before any page is read when a backend of `names` (`NAME` or `NAME:VARIANT`) cannot run.

    In this process: UnknownBackend for a name the registry does not know. Through the gateway at `via`:
    the gateway's own error for the name and the variant's options (UnknownBackend, InvalidOption:
    `InputError`s), Unauthorized for a missing or wrong `api_key`, BackendUnavailable when the gateway
    cannot be reached or is not an ocrgate gateway. Any other answer (a known backend with no healthy
    worker right now, a busy gateway) is let through: its pages say so.
    Raises ValueError for a variant not in `runner.VARIANTS`.
    """
    from ocrgate.backends import registry

    variants = [backend_variant(name) for name in names]
    if via is None:
        for base, _ in variants:
            registry.get(base)
        return
    from ocrgate.client import OCRGateClient

    with OCRGateClient(via, api_key, timeout=30) as client:
        for base, options in variants:
            try:
                client.check(base, options or None)
            except Unauthorized as exc:
                hint = "give it with --api-key or OCRGATE_API_KEY" if not api_key else "check --api-key"
                raise Unauthorized(
                    f"the gateway at {via} refused the request: {exc.message}; {hint}"
                ) from exc
            except InputError:
                raise
            except BackendError as exc:  # no gateway's JSON answer: a proxy's page, another server
                raise BackendUnavailable(f"the gateway at {via}: {exc.message}") from exc
            except httpx.HTTPError as exc:
                raise BackendUnavailable(f"cannot reach the gateway at {via}: {exc}") from exc
            except OCRGateError:
                pass  # a known backend that cannot take a page now (no healthy worker): its pages say so


def failure_lines(records: Iterable[PageRecord], names: Sequence[str]) -> list[str]:
    """One line per backend of `names` with failed pages: `NAME: F of N pages failed (cause ×k, ...):
    first error`, in the order of `names`."""
    lines = []
    by_backend: dict[str, list[PageRecord]] = {}
    for record in records:
        by_backend.setdefault(record.backend, []).append(record)
    for name in names:
        mine = by_backend.get(name, [])
        failed = [r for r in mine if not r.ok]
        if not failed:
            continue
        causes = Counter(r.cause or "error" for r in failed)
        told = ", ".join(f"{cause} ×{count}" for cause, count in causes.most_common())
        lines.append(f"{name}: {len(failed)} of {len(mine)} pages failed ({told}): {failed[0].error or ''}")
    return lines


def evaluated(records: Iterable[PageRecord]) -> int:
    """How many (backend, page) records were read without failure."""
    return sum(1 for r in records if r.ok)
