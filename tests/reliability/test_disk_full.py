"""The gateway's data directory runs out of space: a job submitted then gets 507 `storage_error` as JSON,
the SQLite job store stays sound (`PRAGMA integrity_check` = ok), jobs from before stay readable, and
once space is back new jobs are accepted and complete, all without a gateway restart.

The data directory is a real 4 MiB tmpfs mounted for the test (root, as CI runs); where mounting is
not allowed (or OCRGATE_TEST_NO_MOUNT=1) the gateway's RLIMIT_FSIZE is lowered instead (writes then
fail with EFBIG, which the store treats the same way).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import resource
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from PIL import Image

from tests.gateway.cluster import Cluster
from tests.reliability.conftest import CORPUS_DIR, gateway_pid, noop_cluster
from tests.reliability.reports import write_report

PAGE = CORPUS_DIR / "png_named.pdf"  # a small valid PNG


class FullDisk(Protocol):
    kind: str

    def fill(self) -> None: ...

    def free(self) -> None: ...


class TmpfsDisk:
    """A small tmpfs on the data directory, filled with a ballast file and emptied again."""

    kind = "tmpfs"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ballast = data_dir / "ballast"

    def fill(self) -> None:
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        try:
            for size in (1 << 20, 1 << 16, 1 << 12, 1):
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * size):
                        pass
        finally:
            os.close(fd)
        assert shutil.disk_usage(self.data_dir).free == 0

    def free(self) -> None:
        self.ballast.unlink()


class FileSizeLimit:
    """No mount allowed: the gateway may not write past byte 0 of any file (RLIMIT_FSIZE)."""

    kind = "rlimit_fsize"

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.saved = resource.prlimit(pid, resource.RLIMIT_FSIZE)

    def fill(self) -> None:
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (1, self.saved[1]))

    def free(self) -> None:
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, self.saved)


def _mount_tmpfs(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None or os.environ.get("OCRGATE_TEST_NO_MOUNT"):
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def cluster_on_small_disk(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Cluster, FullDisk]]:
    """A noop cluster whose data directory can be filled; `request.param`: seconds per page."""
    data_dir = tmp_path / "data"  # where Cluster puts the gateway's data_dir
    mounted = _mount_tmpfs(data_dir)
    try:
        cluster = noop_cluster(tmp_path, delay_s=getattr(request, "param", 0.0))
        try:
            disk: FullDisk = TmpfsDisk(data_dir) if mounted else FileSizeLimit(gateway_pid(cluster))
            yield cluster, disk
        finally:
            assert cluster.stop() == []
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(data_dir)], check=False)


def _submit(cluster: Cluster) -> httpx.Response:
    return httpx.post(
        f"{cluster.url}/v1/jobs",
        files={"file": ("p.png", PAGE.read_bytes())},
        data={"backend": "noop"},
        timeout=30,
    )


def _completed(cluster: Cluster, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            assert job["status"] == "completed", job
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not finish")


def _integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_full_data_directory_gives_507_then_recovers(cluster_on_small_disk: tuple[Cluster, FullDisk]) -> None:
    cluster, disk = cluster_on_small_disk
    db = cluster.config.parent / "data" / "jobs.sqlite3"
    pid = gateway_pid(cluster)
    before = _submit(cluster)
    assert before.status_code == 202, before.text
    old_id = before.json()["id"]
    _completed(cluster, old_id)
    old_result = httpx.get(f"{cluster.url}/v1/jobs/{old_id}/result", timeout=10).json()

    disk.fill()
    try:
        refused = [_submit(cluster) for _ in range(3)]
        for response in refused:
            assert response.status_code == 507, response.text
            assert response.headers["content-type"].startswith("application/json")
            error = response.json()["error"]
            assert error["code"] == "storage_error", error
            reasons = (os.strerror(errno.ENOSPC), os.strerror(errno.EFBIG))
            assert any(reason in error["message"] for reason in reasons), error
        # reading goes on while the disk is full: the old job, the job list, interactive OCR
        assert httpx.get(f"{cluster.url}/v1/jobs/{old_id}", timeout=10).json()["status"] == "completed"
        listed = httpx.get(f"{cluster.url}/v1/jobs", timeout=10).json()
        assert [j["id"] for j in listed] == [old_id]  # the refused jobs left no row behind
        ocr = httpx.post(
            f"{cluster.url}/v1/ocr", files={"file": ("p.png", PAGE.read_bytes())}, data={"backend": "noop"}
        )
        assert ocr.status_code == 200, ocr.text
        assert _integrity(db) == "ok"
    finally:
        disk.free()

    after = _submit(cluster)
    assert after.status_code == 202, after.text
    _completed(cluster, after.json()["id"])
    assert httpx.get(f"{cluster.url}/v1/jobs/{old_id}/result", timeout=10).json() == old_result
    assert gateway_pid(cluster) == pid  # no restart was needed
    assert _integrity(db) == "ok"
    leftovers = sorted(p.name for p in (db.parent / "jobs").iterdir())
    assert leftovers == sorted([old_id, after.json()["id"]])  # refused uploads left no directory
    write_report(
        "disk_full",
        {
            "how": disk.kind,
            "refused_while_full": [r.status_code for r in refused],
            "error": refused[0].json()["error"],
            "integrity_check": "ok",
            "old_job_intact": True,
            "new_job_after_freeing": "completed",
        },
    )


def _tiff(pages: int) -> bytes:
    frames = [Image.new("L", (60, 40), 255) for _ in range(pages)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "TIFF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("cluster_on_small_disk", [0.3], indirect=True)
def test_a_job_in_flight_when_the_disk_fills_completes_once_space_is_back(
    cluster_on_small_disk: tuple[Cluster, FullDisk],
) -> None:
    cluster, disk = cluster_on_small_disk
    response = httpx.post(
        f"{cluster.url}/v1/jobs", files={"file": ("p.tif", _tiff(8))}, data={"backend": "noop"}, timeout=30
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 30
    while httpx.get(f"{cluster.url}/v1/jobs/{job_id}", timeout=10).json()["progress"]["noop"]["done"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    disk.fill()
    try:
        time.sleep(2)  # pages finish at the worker meanwhile and cannot be saved
    finally:
        disk.free()
    job = _completed(cluster, job_id, timeout_s=30)
    assert job["progress"]["noop"]["done"] == 8
    assert _integrity(cluster.config.parent / "data" / "jobs.sqlite3") == "ok"
