"""`allocator.keep_freed_memory`: a freed page-sized block stays in the process for the next request."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys

import pytest

from ocrgate.allocator import keep_freed_memory

# In a fresh process: glibc's mallinfo2(3) (2.33+) before and after a 4 MiB block is made and freed.
PROBE = """
import ctypes, json, sys
from ocrgate.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                 "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
kept = keep_freed_memory(int(sys.argv[1]))
block = bytearray(4 * 1024 * 1024)
mapped_while_held = libc.mallinfo2().hblkhd
del block
free_in_heap = libc.mallinfo2().fordblks
print(json.dumps({"kept": kept, "mapped_while_held": mapped_while_held, "free_in_heap": free_in_heap}))
"""


def _probe(megabytes: int) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(megabytes)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="needs glibc 2.33+ (mallinfo2)")
def test_a_freed_block_is_kept_in_the_heap_and_by_default_given_back() -> None:
    default = _probe(0)
    assert not default["kept"]
    assert default["mapped_while_held"] >= 4 * 1024 * 1024  # its own mmap, unmapped when freed
    assert default["free_in_heap"] < 4 * 1024 * 1024

    kept = _probe(32)
    assert kept["kept"]
    assert kept["mapped_while_held"] < 4 * 1024 * 1024  # taken from the heap
    assert kept["free_in_heap"] >= 4 * 1024 * 1024  # and kept there once freed


def test_zero_leaves_the_defaults() -> None:
    assert keep_freed_memory(0) is False
