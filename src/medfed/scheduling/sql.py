"""The SQL :class:`TaskStore` (SQLAlchemy Core): an SQLite file by default, or PostgreSQL.

How a task is never assigned twice, by two threads or two processes:
* SQLite: every transaction starts with ``BEGIN IMMEDIATE``, which takes the database's write
  lock at once, so claims run one after another (others wait up to ``busy_timeout``);
* PostgreSQL: a claim locks its node's row (``SELECT ... FOR UPDATE``), so one node's claims
  and its capacity check run one at a time, and the assignment itself is
  ``UPDATE ... WHERE state = 'queued'``: of two transactions racing for one task, the second
  re-reads the row after the first commits, finds it assigned, updates nothing and moves on.
* Every other change is ``UPDATE ... WHERE version = :read_version`` (compare-and-set).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from medfed.errors import ConfigError
from medfed.scheduling.errors import TaskError, TaskStoreUnavailableError
from medfed.scheduling.memory import MemoryTaskStore
from medfed.scheduling.model import (
    ACTIVE_STATES,
    Candidate,
    ClaimView,
    NodeInfo,
    Task,
    TaskSpec,
    TaskState,
)
from medfed.scheduling.store import Chooser, TaskStore

_metadata = sa.MetaData()

_tasks = sa.Table(
    "medfed_tasks",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("submitter", sa.Text, nullable=False),
    sa.Column("assigned_node", sa.String(128)),
    sa.Column("bound_to", sa.String(128)),
    sa.Column("family", sa.Text),
    sa.Column("needs", sa.Text, nullable=False),  # dataset ids joined by "," (ids hold no comma)
    sa.Column("spec", sa.Text, nullable=False),  # JSON of the TaskSpec
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("progress", sa.Double, nullable=False),
    sa.Column("result", sa.Text),
    sa.Column("failure", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("medfed_tasks_queue", "state", "priority", "created_at"),
    sa.Index("medfed_tasks_node", "assigned_node", "state"),
    sa.Index("medfed_tasks_family", "family"),
)

_nodes = sa.Table(
    "medfed_task_nodes",
    _metadata,
    sa.Column("node_id", sa.String(128), primary_key=True),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("load", sa.Double, nullable=False),
    sa.Column("datasets", sa.Text, nullable=False),  # JSON list
    sa.Column("last_seen", sa.Double, nullable=False),
)

# Statements of the hot path, built once (SQLAlchemy then reuses their compiled form).
_PAGE = 32
_ACTIVE_VALUES = [s.value for s in ACTIVE_STATES]
_LOCK_NODE = sa.select(_nodes).where(_nodes.c.node_id == sa.bindparam("b_node")).with_for_update()
_TOUCH_NODE = (
    sa.update(_nodes).where(_nodes.c.node_id == sa.bindparam("b_node")).values(last_seen=sa.bindparam("b_now"))
)
_LIVE_NODES = sa.select(_nodes).where(_nodes.c.last_seen >= sa.bindparam("b_since"))
_OWN_ACTIVE = sa.select(sa.func.count()).where(
    _tasks.c.assigned_node == sa.bindparam("b_node"), _tasks.c.state.in_(_ACTIVE_VALUES)
)
_ACTIVE = (
    sa.select(_tasks.c.assigned_node, sa.func.count())
    .where(_tasks.c.state.in_(_ACTIVE_VALUES))
    .group_by(_tasks.c.assigned_node)
)
_QUEUED = (
    sa.select(_tasks.c.task_id, _tasks.c.priority, _tasks.c.bound_to, _tasks.c.needs)
    .where(
        _tasks.c.state == TaskState.QUEUED.value,
        sa.or_(_tasks.c.bound_to.is_(None), _tasks.c.bound_to == sa.bindparam("b_node")),
    )
    .order_by(_tasks.c.priority.desc(), _tasks.c.created_at, _tasks.c.seq)
)
_ASSIGN = (
    sa.update(_tasks)
    .where(_tasks.c.task_id == sa.bindparam("b_task"), _tasks.c.state == TaskState.QUEUED.value)
    .values(
        state=TaskState.ASSIGNED.value,
        assigned_node=sa.bindparam("b_node"),
        attempts=_tasks.c.attempts + 1,
        progress=0.0,
        updated_at=sa.bindparam("b_now"),
        version=_tasks.c.version + 1,
    )
)
_BY_ID = sa.select(_tasks).where(_tasks.c.task_id == sa.bindparam("b_task"))

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class SqlTaskStore(TaskStore):
    """Tasks and nodes in SQL tables ``medfed_tasks`` and ``medfed_task_nodes`` (created if absent).

    ``url`` is an SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``).
    ``schema`` (PostgreSQL only) keeps the tables in their own schema, created if absent.
    """

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self._url = url
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise ConfigError(f"task store URL {url!r} is not valid: {exc}") from None
        self._sqlite = parsed.get_backend_name() == "sqlite"
        if schema is not None and (self._sqlite or not _SCHEMA_NAME.match(schema)):
            raise ConfigError(f"schema {schema!r}: PostgreSQL only, lower-case letters, digits and '_'")
        try:
            engine = sa.create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30} if self._sqlite else {},
                pool_pre_ping=not self._sqlite,
            )
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise ConfigError(f"task store URL {url!r} cannot be opened: {exc}") from None
        if self._sqlite:
            _serialise_sqlite(engine)
        self._base_engine = engine
        self._engine: Engine = (
            engine.execution_options(schema_translate_map={None: schema}) if schema else engine
        )
        try:
            if schema:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            _metadata.create_all(self._engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise ConfigError(f"task store {_safe(url)} cannot be reached: {exc.orig}") from None

    @contextlib.contextmanager
    def _begin(self) -> Iterator[Connection]:
        """One transaction; a lost database connection becomes a :class:`TaskStoreUnavailableError`."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise TaskStoreUnavailableError(f"task store {_safe(self._url)} cannot be reached: {exc.orig}") from None
        except sa.exc.DataError as exc:  # a value the checks missed: refuse it, change nothing
            raise TaskError(f"task store {_safe(self._url)} refused a value: {exc.orig}") from None
        except OverflowError as exc:  # SQLite: an integer beyond 64 bits
            raise TaskError(f"task store {_safe(self._url)} refused a value: {exc}") from None

    # -- tasks -------------------------------------------------------------------------------

    def add(self, task: Task) -> None:
        try:
            with self._begin() as conn:
                conn.execute(sa.insert(_tasks).values(**_task_row(task)))
        except sa.exc.IntegrityError:
            raise TaskError(f"task {task.task_id} already exists") from None

    def get(self, task_id: str) -> Task | None:
        with self._begin() as conn:
            row = conn.execute(_BY_ID, {"b_task": task_id}).mappings().first()
        return _task(row) if row is not None else None

    def list(self, *, state: TaskState | None = None, family: str | None = None) -> builtins.list[Task]:
        query = sa.select(_tasks).order_by(_tasks.c.created_at, _tasks.c.seq)
        if state is not None:
            query = query.where(_tasks.c.state == state.value)
        if family is not None:
            query = query.where(_tasks.c.family == family)
        with self._begin() as conn:
            return [_task(row) for row in conn.execute(query).mappings()]

    def replace(self, task: Task) -> Task | None:
        written = Task.from_dict({**task.to_dict(), "version": task.version + 1})
        values = _task_row(written)
        for key in ("seq", "task_id", "created_at", "spec", "kind", "name", "priority", "bound_to", "family", "needs"):
            values.pop(key, None)  # what was asked never changes
        with self._begin() as conn:
            done = conn.execute(
                sa.update(_tasks)
                .where(_tasks.c.task_id == task.task_id, _tasks.c.version == task.version)
                .values(**values)
            )
        return written if done.rowcount == 1 else None

    def claim(self, node_id: str, *, now: float, live_since: float, choose: Chooser) -> Task | None:
        with self._begin() as conn:
            row = conn.execute(_LOCK_NODE, {"b_node": node_id}).mappings().first()
            if row is None:
                return None
            conn.execute(_TOUCH_NODE, {"b_node": node_id, "b_now": now})
            node = dataclasses.replace(_node(row), last_seen=now)
            own = int(conn.execute(_OWN_ACTIVE, {"b_node": node_id}).scalar_one())
            # Most claims take one of the first queued tasks: read a page, the whole queue only if needed.
            for limit in (_PAGE, None):
                view = ClaimView(
                    node,
                    own_active=own,
                    candidates=functools.partial(self._candidates, conn, node_id, limit),
                    active=functools.partial(self._active, conn),
                    live_nodes=functools.partial(self._live_nodes, conn, live_since),
                )
                for task_id in choose(view):
                    done = conn.execute(_ASSIGN, {"b_task": task_id, "b_node": node_id, "b_now": now})
                    if done.rowcount == 1:
                        claimed = conn.execute(_BY_ID, {"b_task": task_id}).mappings().one()
                        return _task(claimed)
                if not view.candidates_read or limit is None or len(view.candidates) < limit:
                    break  # a full node, or the page held the whole queue
            return None

    @staticmethod
    def _candidates(conn: Connection, node_id: str, limit: int | None) -> tuple[Candidate, ...]:
        rows = conn.execute(_QUEUED.limit(limit) if limit else _QUEUED, {"b_node": node_id})
        return tuple(
            Candidate(task_id, priority, bound_to, _split(needs)) for task_id, priority, bound_to, needs in rows
        )

    @staticmethod
    def _live_nodes(conn: Connection, since: float) -> tuple[NodeInfo, ...]:
        return tuple(_node(r) for r in conn.execute(_LIVE_NODES, {"b_since": since}).mappings())

    @staticmethod
    def _active(conn: Connection) -> dict[str, int]:
        return {node: int(count) for node, count in conn.execute(_ACTIVE)}

    # -- nodes -------------------------------------------------------------------------------

    def put_node(self, node: NodeInfo) -> NodeInfo:
        values = {
            "capacity": node.capacity,
            "load": node.load,
            "datasets": json.dumps(list(node.datasets)),
            "last_seen": node.last_seen,
        }
        dialect = sqlite_insert if self._sqlite else postgresql_insert
        upsert = dialect(_nodes).values(node_id=node.node_id, **values)
        with self._begin() as conn:
            conn.execute(upsert.on_conflict_do_update(index_elements=[_nodes.c.node_id], set_=values))
        return node

    def get_node(self, node_id: str) -> NodeInfo | None:
        with self._begin() as conn:
            row = conn.execute(sa.select(_nodes).where(_nodes.c.node_id == node_id)).mappings().first()
        return _node(row) if row is not None else None

    def nodes(self) -> builtins.list[NodeInfo]:
        with self._begin() as conn:
            return [_node(r) for r in conn.execute(sa.select(_nodes).order_by(_nodes.c.node_id)).mappings()]

    def touch_node(self, node_id: str, now: float) -> None:
        with self._begin() as conn:
            conn.execute(sa.update(_nodes).where(_nodes.c.node_id == node_id).values(last_seen=now))

    def close(self) -> None:
        self._base_engine.dispose()

    def __repr__(self) -> str:
        return f"SqlTaskStore({_safe(self._url)!r})"


def _serialise_sqlite(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock at its start (see the module docstring)."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _task_row(task: Task) -> dict[str, Any]:
    spec = task.spec
    return {
        "task_id": task.task_id,
        "kind": spec.kind,
        "name": spec.name,
        "priority": spec.priority,
        "state": task.state.value,
        "submitter": task.submitter,
        "assigned_node": task.assigned_node,
        "bound_to": spec.bound_to,
        "family": spec.family,
        "needs": ",".join(sorted(spec.needs)),
        "spec": json.dumps(spec.to_dict()),
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "attempts": task.attempts,
        "progress": task.progress,
        "result": json.dumps(task.result) if task.result is not None else None,
        "failure": task.failure,
        "version": task.version,
    }


def _task(row: Any) -> Task:
    return Task(
        task_id=row["task_id"],
        spec=TaskSpec.from_dict(json.loads(row["spec"])),
        state=TaskState(row["state"]),
        submitter=row["submitter"],
        assigned_node=row["assigned_node"],
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
        attempts=int(row["attempts"]),
        progress=float(row["progress"]),
        result=json.loads(row["result"]) if row["result"] is not None else None,
        failure=row["failure"],
        version=int(row["version"]),
    )


def _node(row: Any) -> NodeInfo:
    return NodeInfo(
        node_id=row["node_id"],
        capacity=int(row["capacity"]),
        load=float(row["load"]),
        datasets=tuple(json.loads(row["datasets"])),
        last_seen=float(row["last_seen"]),
    )


def _split(needs: str) -> frozenset[str]:
    return frozenset(needs.split(",")) if needs else frozenset()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid URL>"


def open_task_store(url_or_path: str | Path, *, schema: str | None = None) -> TaskStore:
    """A task store for a URL or a path.

    * ``"memory:"``: :class:`MemoryTaskStore` (gone with the process);
    * a file path or ``sqlite:///path``: :class:`SqlTaskStore` on an SQLite file (created);
    * ``postgresql+psycopg://user@host:port/db`` (``postgresql://`` is read as psycopg).
    """
    text = str(url_or_path)
    if not text:
        raise ConfigError("empty task store: give a file path, sqlite:///path, postgresql+psycopg://... or memory:")
    if text == "memory:":
        return MemoryTaskStore()
    if isinstance(url_or_path, Path) or "://" not in text:
        path = Path(text).expanduser()
        if not path.parent.is_dir():
            raise ConfigError(f"task store {path}: folder {path.parent} does not exist")
        return SqlTaskStore(f"sqlite:///{path.resolve()}")
    scheme = text.split("://", 1)[0]
    if scheme in ("postgresql", "postgres"):
        text = "postgresql+psycopg://" + text.split("://", 1)[1]
    elif not (scheme.startswith("sqlite") or scheme.startswith("postgresql+")):
        raise ConfigError(
            f"unknown task store scheme {scheme!r}: use a file path, sqlite:///path, "
            "postgresql+psycopg://user@host/db or memory:"
        )
    return SqlTaskStore(text, schema=schema)
