"""Durable jobs: a document's pages queued per backend, worked through, kept across restarts.

`records` holds what a store takes and gives (`NewJob`, `JobRecord`, `PageTask`, `PageOutcome`), `store`
the interface (`JobStore`) and `open_store`, `sqlite` the one-gateway store (`SQLiteJobStore`),
`postgres` the store several gateways share (`PostgresJobStore`; imported from `ocrgate.jobs.postgres`,
as it needs the optional psycopg), `sql` what the two share (`SQLJobStore`: their statements, written
once for each database's `Dialect`), `sqlite_schema` and `postgres_schema` their tables, `rows` rows as
records, `runner` the gateway's loop that takes queued pages through the recognition flow
(`ocrgate.jobs.runner.JobRunner`), `watchdog` what keeps every page and job moving (a deadline per page,
pages and jobs left by gone gateways), and `events` a job's server-sent event stream.
"""

from ocrgate.jobs.records import (
    ACTIVE,
    JobRecord,
    NewJob,
    PageKey,
    PageOutcome,
    PageState,
    PageTask,
    PageTruth,
    new_job_id,
)
from ocrgate.jobs.sqlite import SQLiteJobStore
from ocrgate.jobs.store import JobStore, open_store

__all__ = [
    "ACTIVE",
    "JobRecord",
    "JobStore",
    "NewJob",
    "PageKey",
    "PageOutcome",
    "PageState",
    "PageTask",
    "PageTruth",
    "SQLiteJobStore",
    "new_job_id",
    "open_store",
]
