"""Fixtures for the task queue: each store backend in turn, a hand-driven clock, a small study."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from medfed.scheduling import MemoryTaskStore, Scheduler, SqlTaskStore, TaskStore

from .support import FakeClock


def postgres_url() -> str:
    """The PostgreSQL server for tests; absent under CI is a failure, elsewhere a skip."""
    url = os.environ.get("MEDFED_TEST_POSTGRES_URL")
    if not url:
        message = "MEDFED_TEST_POSTGRES_URL is not set: the PostgreSQL task store is not tested"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def pg_schema() -> Iterator[Callable[[], SqlTaskStore]]:
    """Opens PostgreSQL stores in one schema of this test's own, dropped afterwards."""
    url = postgres_url()
    schema = f"medfed_test_{uuid.uuid4().hex[:12]}"
    opened: list[SqlTaskStore] = []

    def open_store() -> SqlTaskStore:
        opened.append(SqlTaskStore(url, schema=schema))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TaskStore]:
    """Each backend in turn: every test that takes ``store`` runs against all three."""
    backend: TaskStore
    if request.param == "memory":
        backend = MemoryTaskStore()
    elif request.param == "sqlite":
        backend = SqlTaskStore(f"sqlite:///{tmp_path / 'tasks.db'}")
    else:
        backend = request.getfixturevalue("pg_schema")()
    yield backend
    backend.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def scheduler(store: TaskStore, clock: FakeClock) -> Scheduler:
    return Scheduler(store, lease_seconds=30.0, max_attempts=2, clock=clock)
