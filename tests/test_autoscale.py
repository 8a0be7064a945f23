"""What worker pools scale on: queued plus running tasks per engine, from the ``queue_depth``
view (migration 0010). The Helm chart's KEDA query is run here as rendered, against
PostgreSQL; the Prometheus gauge and ``GET /worker/queue-depth`` read the same view."""

from __future__ import annotations

import math
import os
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

import twoshot.store
from tests.chart import find, render
from tests.conftest import Live
from tests.store.test_contract import opened_store, task
from twoshot.domain import TaskStatus


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_view_counts_queued_and_running_tasks_per_engine(kind: str, tmp_path: Path) -> None:
    with opened_store(kind, tmp_path) as (store, clock):
        key = store.create_key("k")[0].id
        assert store.queue_depth() == {}
        store.submit([task(key, n, engine="a") for n in range(3)], None, "{}")
        store.submit([task(key, 10, engine="b")], None, "{}")
        assert store.queue_depth() == {"a": 3, "b": 1}
        done = store.claim("w1", ["a"], 30)
        assert done is not None
        assert store.finish(done.id, "w1", TaskStatus.COMPLETED, result_key="r" * 32)
        running = store.claim("w2", ["a"], 30)
        assert running is not None
        assert store.queue_depth() == {"a": 2, "b": 1}  # one running, one queued
        clock.now += 60  # w2 died: its task is runnable again, and still counts
        assert store.queue_depth() == {"a": 2, "b": 1}
        assert store.cancel(f"t{10:04d}", key) is not None
        assert store.queue_depth() == {"a": 2}


def test_the_charts_postgresql_query_through_the_states(tmp_path: Path) -> None:
    """empty → 0, three queued → 3, one running and none queued → 1 (the busy worker stays),
    more than the pool can take → capped at maxReplicas × tasksPerWorker."""
    docs = render(sets={"pools.studio.maxReplicas": "3", "pools.studio.tasksPerWorker": "2"})
    scaled = find(docs, "ScaledObject", "-worker-studio")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    query = trigger["metadata"]["query"]
    target = int(trigger["metadata"]["targetQueryValue"])
    most = scaled["spec"]["maxReplicaCount"]
    assert (scaled["spec"]["minReplicaCount"], most, target) == (0, 3, 2)

    with opened_store("postgresql", tmp_path) as (store, _clock):

        def depth() -> int:
            with store._engine.connect() as conn:
                return int(conn.execute(text(query)).scalar_one())

        def workers() -> int:  # what KEDA asks the HPA for: ceil(metric / target)
            return math.ceil(depth() / target)

        key = store.create_key("k")[0].id
        assert depth() == 0 and workers() == 0
        store.submit([task(key, n, engine="studio") for n in range(3)], None, "{}")
        store.submit([task(key, 50, engine="qwen-edit")], None, "{}")  # another pool's
        assert depth() == 3 and workers() == 2
        for n in range(3):
            claimed = store.claim(f"w{n}", ["studio"], 30)
            assert claimed is not None
            if n < 2:
                assert store.finish(claimed.id, f"w{n}", TaskStatus.COMPLETED, result_key=f"r{n}")
        assert depth() == 1 and workers() == 1  # one running, none queued
        store.submit([task(key, 100 + n, engine="studio") for n in range(20)], None, "{}")
        assert store.queue_depth()["studio"] == 21
        assert depth() == most * target and workers() == most


def test_a_later_batch_migration_can_rebuild_tasks_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch migration copies ``tasks`` and renames the copy into place; SQLite checks the
    view on that rename and fails it while ``tasks`` is away, unless migrate() turns on the
    legacy rename (it does)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    probe = Config()
    probe.set_main_option("script_location", str(twoshot.store.MIGRATIONS))
    head = ScriptDirectory.from_config(probe).get_current_head()
    later = tmp_path / "versions"
    later.mkdir()
    (later / "9999_rebuild.py").write_text(
        f'''"""rebuild tasks"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tasks", recreate="always") as batch:
        batch.add_column(sa.Column("later", sa.Integer, nullable=True))
'''
    )

    class WithLater(Config):
        def set_main_option(self, name: str, value: str) -> None:
            super().set_main_option(name, value)
            if name == "script_location":
                super().set_main_option("path_separator", "os")
                versions = os.pathsep.join([str(twoshot.store.MIGRATIONS / "versions"), str(later)])
                super().set_main_option("version_locations", versions)

    monkeypatch.setattr(twoshot.store, "Config", WithLater)
    with opened_store("sqlite", tmp_path) as (store, _clock):
        key = store.create_key("k")[0].id
        store.submit([task(key, 0, engine="a")], None, "{}")
        assert store.queue_depth() == {"a": 1}
        with store._engine.connect() as conn:
            assert "later" in {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(tasks)")}


def test_the_gauge_and_the_worker_route_read_the_same_depth(live: Live) -> None:
    rt = live.runtime
    engine = rt.settings.engine
    _, token = rt.store.create_worker_token("keda")
    route = f"{live.url}/worker/queue-depth"

    def gauge() -> str:
        return httpx.get(f"{live.url}/metrics").text

    assert f'twoshot_queue_depth{{engine="{engine}"}} 0.0' in gauge()  # a series before work
    assert httpx.get(route).status_code == 401  # not for anyone
    assert httpx.get(route, headers=live.headers).status_code == 401  # nor for API keys
    key = rt.store.authenticate(live.key)
    assert key is not None
    rt.store.submit([task(key.id, n, engine=engine) for n in range(2)], None, "{}")
    assert f'twoshot_queue_depth{{engine="{engine}"}} 2.0' in gauge()
    answer = httpx.get(route, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.json() == {"engines": {engine: 2}}
