"""How a server process's C heap treats large buffers: kept for reuse, not mapped afresh per request.

glibc's malloc (the C heap under CPython's large objects, pydantic-core's JSON and the image codecs)
serves a request of at least `M_MMAP_THRESHOLD` bytes with pages mapped for it alone and unmaps them
at `free`, and gives the heap's free top back to the system once it exceeds `M_TRIM_THRESHOLD`
(glibc manual, "Malloc Tunable Parameters"; defaults 128 KiB, raised by glibc as it sees larger
blocks freed). The pages come back zeroed by the kernel, one minor page fault per 4 KiB, each time a
request needs them again. A `boxes=first` answer of an A4 page moves buffers of 0.3-0.5 MB (the
upload, its base64, the SVG, the JSON): measured in the gateway, 490 minor faults per request (about
2 MB paged in afresh) with glibc's own policy, none with the policy set here; the boxes picture's
extra cost over `boxes=none` fell from 4.7-5.6 to 2.0-2.7 ms a request on 2 cores (200 requests of
an A4 JPEG through a real gateway; README, Performance, "Large buffers kept").

With both thresholds set (which also turns glibc's dynamic adjustment off), blocks below
`mmap_threshold` come from the heap and at most `trim_threshold` bytes of free heap top are kept
per malloc arena (glibc gives threads that allocate at once arenas of their own): the process keeps
memory it does not use at the moment, bounded, in exchange for not faulting it in again (measured:
the gateway's RSS 3 MB higher after 480 A4 requests from 16 clients, 22 MB after five PDFs).
Larger blocks (a rasterised 300 dpi page, 26 MB) are still mapped and returned at once.
"""

from __future__ import annotations

import ctypes
import logging
import platform

log = logging.getLogger(__name__)

# malloc.h's parameter numbers for mallopt(3)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# the highest M_MMAP_THRESHOLD glibc accepts on a 64-bit system: DEFAULT_MMAP_THRESHOLD_MAX,
# 4 * 1024 * 1024 * sizeof(long) (mallopt(3))
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024


def keep_large_buffers(mmap_threshold: int, trim_threshold: int) -> bool:
    """Set this process's glibc malloc thresholds (bytes; 0 leaves that one as glibc has it).

    Returns True when glibc took every non-zero threshold; False where the C library is not glibc
    (musl, macOS, Windows: nothing is changed there) or `mallopt` answered failure. glibc 2.36 takes
    an `mmap_threshold` above MMAP_THRESHOLD_MAX and then ignores it (`GatewayConfig` refuses one).
    Never raises for an unsupported platform.
    """
    wanted = [(M_MMAP_THRESHOLD, mmap_threshold), (M_TRIM_THRESHOLD, trim_threshold)]
    wanted = [(param, value) for param, value in wanted if value > 0]
    if not wanted:
        return True
    if platform.libc_ver()[0] != "glibc":
        log.info("the C library is not glibc: malloc thresholds left as they are")
        return False
    libc = ctypes.CDLL(None)  # this process's own symbols: glibc's mallopt
    ok = True
    for param, value in wanted:
        if libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) != 1:  # mallopt answers 1 on success
            log.warning("glibc refused mallopt(%d, %d): left as it was", param, value)
            ok = False
    return ok
