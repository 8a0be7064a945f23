"""/metrics in Prometheus text format, with the figures an operator watches."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Live, couple_files, make_settings
from twoshot.engines import load_engine
from twoshot.runtime import Runtime
from twoshot.service import NoChecks


def samples(live: Live) -> dict[tuple[str, tuple], float]:
    r = httpx.get(f"{live.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_follow_the_work(live: Live) -> None:
    files = couple_files()
    for _ in range(2):
        assert (
            httpx.post(
                f"{live.url}/api/couple_image", headers=live.headers, files=files
            ).status_code
            == 200
        )
    before = samples(live)
    assert before[("twoshot_tasks", (("status", "queued"),))] == 2
    refused = httpx.post(
        f"{live.url}/api/couple_image/batch",
        headers=live.headers,
        json={
            "maleImages": ["file:///etc/passwd"],
            "femaleImages": ["x"],
            "items": [{"maleIndex": 0, "femaleIndex": 0, "prompt": "p"}],
        },
    )
    assert refused.status_code == 400
    rt = live.runtime
    rt.make_worker(load_engine(rt.settings.engine, rt.settings)).run(burst=True)
    after = samples(live)
    engine = (("engine", rt.settings.engine), ("kind", "couple"))
    assert after[("twoshot_tasks", (("status", "completed"),))] == 2
    assert after[("twoshot_tasks", (("status", "queued"),))] == 0
    assert after[("twoshot_task_duration_seconds_count", engine)] == 2
    assert after[("twoshot_rejections_total", (("code", "url_not_allowed"),))] == 1
    beats = [v for (name, _), v in after.items() if name == "twoshot_worker_heartbeats_total"]
    assert beats and sum(beats) >= 2


def test_a_running_twoshot_worker_exposes_its_metrics(tmp_path: Path) -> None:
    """`twoshot worker --metrics-port`: queue wait, run time, the task in hand, heartbeats."""
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import free_port, start_live, stop_live
    from tests.process import env_for

    settings = make_settings(tmp_path, engine="tests.engines:slow")
    live = start_live(Runtime.build(settings, checks=NoChecks()))
    port = free_port()
    env = env_for(
        settings.data_dir,
        TWOSHOT_ENGINE="tests.engines:slow",
        TWOSHOT_TEST_STEPS="20",
        TWOSHOT_TEST_STEP_SECONDS="0.1",
        TWOSHOT_POLL_INTERVAL="0.05",
        TWOSHOT_LEASE_SECONDS="3",
    )
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "twoshot", "worker", "--metrics-port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        files = couple_files()
        task_id = httpx.post(
            f"{live.url}/api/couple_image", headers=live.headers, files=files
        ).json()["task_id"]
        url = f"http://127.0.0.1:{port}/metrics"

        def scrape() -> str:
            try:
                return httpx.get(url, timeout=2).text
            except httpx.HTTPError:
                return ""

        deadline = time.time() + 60
        while f'task_id="{task_id}"' not in scrape():  # the task in hand, while it runs
            assert time.time() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.1)
        while "twoshot_task_duration_seconds_count" not in (text := scrape()) or (
            'twoshot_task_duration_seconds_count{engine="tests.engines:slow",kind="couple"} 1.0'
            not in text
        ):
            assert time.time() < deadline
            time.sleep(0.1)
        assert (
            'twoshot_queue_wait_seconds_count{engine="tests.engines:slow",kind="couple"} 1.0'
            in text
        )
        assert "twoshot_worker_heartbeats_total" in text
        assert f'task_id="{task_id}"' not in text  # done: no longer in hand
        assert 'twoshot_tasks{status="completed"} 1.0' in text  # it sees the database
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        log.close()
        stop_live(live)


def test_the_grafana_dashboard_queries_metrics_that_exist() -> None:
    import json
    import re

    from tests.conftest import ROOT
    from twoshot.metrics import Metrics

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"\btwoshot_[a-z_]+", e)}
    metrics = Metrics(lambda: {"queued": 0})
    metrics.queue_wait.labels("e", "couple").observe(1)
    metrics.task_duration.labels("e", "couple").observe(1)
    metrics.webhooks.labels("delivered").inc()
    exposed = metrics.render().decode()
    for name in used:
        assert name in exposed, name
    assert len(dashboard["panels"]) >= 6
