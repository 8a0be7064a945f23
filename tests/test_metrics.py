"""/metrics in Prometheus text format, with the figures an operator watches."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Live, photo
from twoshot.engines import load_engine


def samples(live: Live) -> dict[tuple[str, tuple], float]:
    r = httpx.get(f"{live.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_follow_the_work(live: Live) -> None:
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
    }
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
