"""The PostgreSQL job store on a real server: several gateways on one database, killed connections and
processes, schema, expiry, and a real cluster whose gateway is killed mid-job.

The tests every store must pass run in test_jobs_store.py on both stores; these are PostgreSQL's own.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from ocrgate.client import OCRGateClient
from ocrgate.config import GatewayConfig
from ocrgate.errors import StorageError
from ocrgate.jobs import SQLiteJobStore, open_store
from tests.gateway.cluster import Cluster, free_ports
from tests.gateway.test_gateway import pdf_of
from tests.gateway.test_jobs_store import PDF, make_job

psycopg = __import__("psycopg") if os.environ.get("CI") else pytest.importorskip("psycopg")  # CI: required
from ocrgate.jobs.postgres import SCHEMA_VERSION, PostgresJobStore  # noqa: E402


def sql(url: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else []


def named(url: str, name: str) -> str:
    """The URL with an application_name, so a test can find (and kill) that store's connections."""
    return f"{url}?application_name={name}"


def wait_for(predicate: Callable[[], Any], timeout_s: float = 10.0, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every_s)
    raise TimeoutError("condition not reached")


def kill_connections(url: str, name: str) -> None:
    """What the server sees when a gateway process dies: all its sessions end (and its lease with them)."""
    query = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s"
    assert sql(url, query, (name,))
    gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = %s"
    wait_for(lambda: sql(url, gone, (name,))[0][0])


@pytest.fixture
def two(postgres_url: str) -> Iterator[tuple[PostgresJobStore, PostgresJobStore]]:
    """Two stores on one database, as two gateways have them."""
    a, b = PostgresJobStore(named(postgres_url, "gw-a")), PostgresJobStore(named(postgres_url, "gw-b"))
    yield a, b
    a.close()
    b.close()


def test_two_gateways_claim_each_page_exactly_once(two: tuple[PostgresJobStore, PostgresJobStore]) -> None:
    a, b = two
    job = make_job(a, backends=["w", "x", "y", "z"], page_count=25)
    claimed: list[tuple[str, int, int]] = []
    settled: list[str | None] = []
    start = threading.Barrier(8)

    def gateway(store: PostgresJobStore) -> None:
        start.wait()
        for task in store.queued_pages(job.id):
            if store.mark_running(job.id, task.backend, task.index):
                claimed.append((task.backend, task.index, store.lease))
                store.save_page(job.id, task.backend, task.index, "{}")
                settled.append(store.finish_if_complete(job.id))

    threads = [threading.Thread(target=gateway, args=(store,)) for store in (a, b) * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pages = [(backend, index) for backend, index, _ in claimed]
    assert len(pages) == len(set(pages)) == 100  # every page claimed exactly once
    assert {lease for *_, lease in claimed} == {a.lease, b.lease}, "both gateways should have won some"
    assert settled.count("completed") >= 1 and set(settled) <= {None, "completed"}
    assert b.get_job(job.id).status == a.get_job(job.id).status == "completed"
    assert b.progress(job.id)["z"].done == 25


def test_a_job_moves_from_a_dead_gateway_to_a_live_one(
    two: tuple[PostgresJobStore, PostgresJobStore], postgres_url: str
) -> None:
    a, b = two
    job = make_job(a, owner="alice", page_count=3)
    assert b.get_job(job.id, "alice") == job and b.load_job(job.id) == job
    assert b.get_job(job.id, "bob") is None and b.get_job(job.id) is None
    assert [j.id for j in b.list_jobs("alice")] == [job.id] and b.list_jobs(None) == []
    assert b.input_bytes(job.id) == PDF  # from the database: the gateways share no disk
    assert a.mark_running(job.id, "rapidocr", 0)
    a.save_page(job.id, "rapidocr", 0, '{"by": "a"}')
    assert a.mark_running(job.id, "rapidocr", 1)  # in flight when gateway a dies
    assert b.unfinished_jobs() == [job.id]
    assert b.requeue_running_pages(job.id) == 0  # a is alive: its page is not b's to take
    assert b.mark_running(job.id, "rapidocr", 1) is False
    kill_connections(postgres_url, "gw-a")
    assert b.requeue_running_pages(job.id) == 1
    assert [(t.index, t.attempts) for t in b.queued_pages(job.id)] == [(1, 0), (2, 0)]
    for task in b.queued_pages(job.id):
        assert b.mark_running(job.id, task.backend, task.index)
        b.save_page(job.id, task.backend, task.index, '{"by": "b"}')
    assert b.finish_if_complete(job.id) == "completed"
    assert [o.result_json for o in b.page_results(job.id, "rapidocr")] == ['{"by": "a"}'] + [
        '{"by": "b"}'
    ] * 2
    restarted = PostgresJobStore(postgres_url)  # gateway a, restarted
    assert restarted.get_job(job.id, "alice").status == "completed" and restarted.unfinished_jobs() == []
    restarted.close()


def test_the_watchdog_sees_only_pages_nobody_alive_works_on(
    two: tuple[PostgresJobStore, PostgresJobStore], postgres_url: str
) -> None:
    a, b = two
    job = make_job(a, page_count=3)
    assert a.mark_running(job.id, "rapidocr", 0) and b.mark_running(job.id, "rapidocr", 1)
    later = time.time() + 1
    assert a.stale_pages(later) == [(job.id, "rapidocr", 0)]  # its own, never b's (b is alive)
    assert b.stale_pages(later) == [(job.id, "rapidocr", 1)]
    assert b.release_pages(job.id, [("rapidocr", 0), ("rapidocr", 1)]) == 1  # only its own
    assert [(t.index, t.attempts) for t in a.queued_pages(job.id)] == [(1, 0), (2, 0)]
    kill_connections(postgres_url, "gw-a")  # a dies with page 0 running
    assert b.stale_pages(later) == [(job.id, "rapidocr", 0)]
    assert b.fail_attempt(job.id, "rapidocr", 0, "left running", max_attempts=3) == "queued"
    assert b.cancel(job.id) and b.stale_pages(later) == []


def test_a_closed_store_gives_its_pages_up(two: tuple[PostgresJobStore, PostgresJobStore]) -> None:
    a, b = two
    job = make_job(a, page_count=2)
    a.mark_running(job.id, "rapidocr", 0)
    a.close()  # a clean stop: the lease is released before close() returns
    assert b.requeue_running_pages(job.id) == 1
    assert b.requeue_running_pages("no-such-job") == 0


def test_a_killed_connection_mid_transaction_leaves_no_half_written_job(postgres_url: str) -> None:
    store = PostgresJobStore(named(postgres_url, "gw-stall"))
    kept = make_job(store)
    stall = """CREATE FUNCTION stall() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF (SELECT name FROM ocrgate_jobs WHERE id = NEW.job_id) = 'stall' THEN PERFORM pg_sleep(30); END IF;
        RETURN NEW; END $$"""
    sql(postgres_url, stall)
    trigger = "CREATE TRIGGER stall BEFORE INSERT ON ocrgate_inputs FOR EACH ROW EXECUTE FUNCTION stall()"
    sql(postgres_url, trigger)
    errors: list[Exception] = []

    def create() -> None:
        try:
            make_job(store, name="stall", page_count=40)
        except Exception as exc:
            errors.append(exc)

    try:
        writer = threading.Thread(target=create)
        writer.start()
        sleeping = "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND application_name = %s"
        [(pid,)] = wait_for(lambda: sql(postgres_url, sleeping, ("gw-stall",)))
        # the job row and its 40 pages are written, its input is not: the connection dies here
        sql(postgres_url, "SELECT pg_terminate_backend(%s)", (pid,))
        writer.join(10)
    finally:
        sql(postgres_url, "DROP TRIGGER stall ON ocrgate_inputs")
        sql(postgres_url, "DROP FUNCTION stall()")
    assert len(errors) == 1 and isinstance(errors[0], StorageError), errors
    counts = ", ".join(f"(SELECT count(*) FROM ocrgate_{t})" for t in ("jobs", "pages", "inputs"))
    assert sql(postgres_url, f"SELECT {counts}") == [(1, 3, 1)]  # only the job made before
    assert store.unfinished_jobs() == [kept.id]
    assert store.get_job(make_job(store).id) is not None  # the pool replaced the dead connection
    store.close()


WRITER = textwrap.dedent(
    """
    import sys
    from ocrgate.jobs import NewJob
    from ocrgate.jobs.postgres import PostgresJobStore

    store = PostgresJobStore(sys.argv[1])
    n = 0
    while True:
        job = store.create_job(NewJob(data=b"x" * 300_000, name="n", media_type="x", backends=["a", "b"],
                                      boxes="none", page_count=50, ttl_s=60))
        for index in range(50):
            store.mark_running(job.id, "a", index)
            store.save_page(job.id, "a", index, '{"blob": "%s"}' % ("y" * 20000))
        n += 1
        if n == 1:
            print("ready", flush=True)
    """
)


def test_a_gateway_killed_while_writing_leaves_whole_jobs(postgres_url: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, postgres_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    jobs = sql(postgres_url, "SELECT id, page_count FROM ocrgate_jobs")
    assert jobs
    for job_id, page_count in jobs:
        assert sql(postgres_url, "SELECT count(*) FROM ocrgate_pages WHERE job_id = %s", (job_id,)) == [
            (100,)
        ]
        [(size,)] = sql(postgres_url, "SELECT length(data) FROM ocrgate_inputs WHERE job_id = %s", (job_id,))
        assert size == 300_000 and page_count == 50
    store = PostgresJobStore(postgres_url)
    for job_id in store.unfinished_jobs():
        store.requeue_running_pages(job_id)  # the writer's lease died with it
        assert store.progress(job_id)["a"].running == 0
    store.close()


def test_expiry_deletes_rows_and_inputs(postgres_url: str) -> None:
    store = PostgresJobStore(postgres_url)
    short, long = make_job(store, ttl_s=10), make_job(store, ttl_s=1000)
    store.save_page(short.id, "rapidocr", 0, "{}")
    assert store.delete_expired(now=short.created_at + 5) == 0
    assert store.delete_expired(now=short.created_at + 11) == 1
    assert store.get_job(short.id) is None
    for table in ("ocrgate_pages", "ocrgate_inputs"):
        assert sql(postgres_url, f"SELECT count(*) FROM {table} WHERE job_id = %s", (short.id,)) == [(0,)]
    assert store.input_bytes(long.id) == PDF
    assert store.delete_expired(now=time.time() + 2000) == 1
    assert sql(postgres_url, "SELECT count(*) FROM ocrgate_inputs") == [(0,)]
    store.close()


def test_schema_is_versioned_and_created_once_by_racing_gateways(postgres_url: str) -> None:
    assert sql(postgres_url, "CREATE SCHEMA fresh") == []
    fresh = f"{postgres_url}?options=-csearch_path%3Dfresh"
    try:
        stores: list[PostgresJobStore] = []
        threads = [threading.Thread(target=lambda: stores.append(PostgresJobStore(fresh))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(stores) == 4  # no gateway tripped over another's CREATE TABLE
        assert sql(fresh, "SELECT id, version FROM ocrgate_schema") == [(1, SCHEMA_VERSION)]
        for s in stores:
            s.close()
        sql(fresh, "UPDATE ocrgate_schema SET version = %s", (SCHEMA_VERSION + 1,))
        with pytest.raises(StorageError, match="newer than this code"):
            PostgresJobStore(fresh)
    finally:
        sql(postgres_url, "DROP SCHEMA fresh CASCADE")


def test_unreachable_server_is_a_storage_error_without_the_password() -> None:
    url = f"postgresql://ocrgate:s3cret@127.0.0.1:{free_ports(1)}/ocrgate"
    with pytest.raises(StorageError, match="cannot open the PostgreSQL job store") as info:
        PostgresJobStore(url, timeout_s=1)
    assert "s3cret" not in info.value.message and "127.0.0.1" in info.value.message


def test_open_store_picks_the_configured_store(postgres_url: str, tmp_path: Path) -> None:
    sqlite = open_store(GatewayConfig(data_dir=tmp_path))
    assert isinstance(sqlite, SQLiteJobStore)
    sqlite.close()
    postgres = open_store(GatewayConfig(job_store="postgres", database_url=postgres_url, data_dir=tmp_path))
    assert isinstance(postgres, PostgresJobStore)
    postgres.close()
    with pytest.raises(ValueError, match="needs database_url"):
        GatewayConfig(job_store="postgres")


def test_two_gateways_share_jobs_and_one_survives_kill_9(
    postgres_url: str, tmp_path: Path, phototest: Path
) -> None:
    """Real `ocrgate serve` processes on one database: a (gateway + the rapidocr worker), b (a gateway
    using a's worker). A job sent to b, whose gateway is killed mid-page, resumes and is read through a."""
    shared = {"job_store": "postgres", "database_url": postgres_url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Cluster(tmp_path / "a", {"rapidocr": {"concurrency": 1}}, gateway=shared)
    b = Cluster(tmp_path / "b", {"rapidocr": {"urls": [f"http://127.0.0.1:{a.port + 1}"]}}, gateway=shared)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # both start at once; b waits for a's worker
            starting = pool.submit(a.start)
            b.start()
            starting.result()
        line = Image.open(phototest).convert("RGB").crop((0, 0, 640, 140))  # its first line
        with OCRGateClient(a.url) as via_a, OCRGateClient(b.url) as via_b:
            job = via_b.submit_job(pdf_of(line, 2), "rapidocr", filename="two.pdf")
            assert via_a.job(job.id).status in ("queued", "running")  # one database: a sees it at once
            gateway_pid = via_b.health()["pid"]
            wait_for(lambda: via_a.job(job.id).progress["rapidocr"].running, 30, 0.1)
            os.kill(gateway_pid, signal.SIGKILL)  # mid-page; b's launcher restarts it, it resumes the job

            def restarted() -> bool:
                try:
                    return via_b.health()["pid"] != gateway_pid
                except httpx.HTTPError:
                    return False

            wait_for(restarted, 60, 0.2)
            final = wait_for(lambda: (s := via_a.job(job.id)).status == "completed" and s, 60, 0.2)
            assert final.progress["rapidocr"].done == 2
            for client in (via_a, via_b):
                result = client.job_result(job.id)
                assert [p.index for p in result.pages] == [0, 1]
                assert all("12 point text" in p.markdown for p in result.pages)
        assert "pages were in flight" in (tmp_path / "b" / "serve.log").read_text()
        assert not (tmp_path / "b" / "data" / "jobs.sqlite3").exists()  # nothing went to SQLite
        assert sql(postgres_url, "SELECT id, status FROM ocrgate_jobs") == [(job.id, "completed")]
    finally:
        b.stop()  # b's only worker is a's, still running: a's stop checks that none is left
        assert a.stop() == []
