"""The qwen-edit engine on CPU with no weights: a tiny random-weight Qwen-Image-Edit built from
configs, saved in the real checkpoint layout and loaded back through the users' loader.
Run alone with ``pytest -m diffusion``."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

pytest.importorskip("diffusers", reason="needs the diffusion extra: pip install '.[diffusion]'")

from tests.conftest import Live, make_settings, photo, start_live, stop_live
from tests.diffusion import (
    check_progress_each_step_and_cancel_at_the_next,
    check_seeds_reproduce_and_shared_jobs_run_as_one_call,
)
from tests.photos import load, side_by_side
from twoshot.domain import JobSpec
from twoshot.engines import Job, load_engine
from twoshot.runtime import Runtime, default_evaluator

pytestmark = pytest.mark.diffusion


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus as plus

    from twoshot.engines.qwen_edit.random_weights import components, save_checkpoint

    # the pipeline resizes every reference to ~384² and ~1024² whatever the model's size;
    # at tiny size that is all the cost, so the tests shrink them
    sizes = plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE
    plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE = 56 * 56, 64 * 64
    yield save_checkpoint(
        components("tiny"), tmp_path_factory.mktemp("qwen") / "Qwen-Image-Edit-tiny"
    )
    plus.CONDITION_IMAGE_SIZE, plus.VAE_IMAGE_SIZE = sizes


def tiny_settings(directory: Path, checkpoint: Path, **extra: object):  # type: ignore[no-untyped-def]
    """Two steps, no CFG, one identity retry, tiny references: seconds on a CPU."""
    values: dict = {
        "model_dir": checkpoint,
        "device": "cpu",
        "qwen_steps": 2,
        "qwen_cfg": 1.0,
        "qwen_identity_retries": 1,
        "qwen_reference_size": 64,
    }
    return make_settings(directory, **(values | extra))


@pytest.fixture(scope="session")
def engine(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    settings = tiny_settings(tmp_path_factory.mktemp("e"), checkpoint)
    return load_engine("qwen-edit", settings)


def test_incomplete_model_dir_is_named(checkpoint: Path, tmp_path: Path) -> None:
    from twoshot.engines.qwen_edit.loading import ModelDirError, check_model_dir

    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    shutil.rmtree(broken / "vae")
    (broken / "model_index.json").unlink()
    with pytest.raises(ModelDirError) as err:
        check_model_dir(broken)
    assert "vae/config.json" in str(err.value) and "model_index.json" in str(err.value)
    with pytest.raises(ModelDirError, match="TWOSHOT_MODEL_DIR"):
        check_model_dir(None)
    with pytest.raises(ModelDirError):
        load_engine("qwen-edit", make_settings(tmp_path, model_dir=broken, device="cpu"))


def job(spec: JobSpec) -> Job:
    images = {
        "m": load("obama"),
        "f": load("astronaut"),
        "p": side_by_side("astronaut", "obama3"),
        "c": load("obama3"),
    }
    return Job("t", spec, images)


def test_conditions_name_who_is_in_which_picture(engine) -> None:  # type: ignore[no-untyped-def]
    images, text = engine.conditions(
        job(JobSpec(kind="couple", male="m", female="f", pose="p", prompt="beach"))
    )
    assert len(images) == 3  # man, woman, pose skeleton
    assert (
        "Picture 1 shows a man" in text
        and "Picture 3 is a pose skeleton" in text
        and "beach" in text
    )
    images, text = engine.conditions(
        job(JobSpec(kind="person", references=["m"], control="c", prompt="park"))
    )
    assert len(images) == 2 and "Picture 2 is a pose skeleton" in text


def test_progress_each_step_and_cancel_at_the_next(engine) -> None:  # type: ignore[no-untyped-def]
    check_progress_each_step_and_cancel_at_the_next(engine, job)


def test_seeds_reproduce_and_shared_jobs_run_as_one_call(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    check_seeds_reproduce_and_shared_jobs_run_as_one_call(engine, job, monkeypatch)


@pytest.fixture
def served(checkpoint: Path, tmp_path: Path) -> Iterator[Live]:
    settings = tiny_settings(tmp_path, checkpoint, engine="qwen-edit")
    server = start_live(Runtime.build(settings))
    yield server
    stop_live(server)


def test_couple_and_person_tasks_complete_through_the_worker(served: Live) -> None:
    files = {
        "maleImage": ("m.jpg", photo("obama.jpg")),
        "femaleImage": ("f.jpg", photo("astronaut.jpg")),
        "poseImage": ("p.jpg", photo("obama3.jpg")),
    }
    couple = httpx.post(
        f"{served.url}/api/couple_image",
        headers=served.headers,
        files=files,
        data={"prompt": "beach", "width": "512", "height": "512", "seed": "3"},
        timeout=60,
    )
    assert couple.status_code == 200, couple.text
    person = httpx.post(
        f"{served.url}/api/person_image",
        headers=served.headers,
        files={"personImages[0]": ("p.jpg", photo("obama2.jpg"))},
        data={"prompt": "studio portrait", "width": "512", "height": "512"},
        timeout=60,
    )
    assert person.status_code == 200, person.text
    rt = served.runtime
    worker = rt.make_worker(load_engine("qwen-edit", rt.settings), default_evaluator())
    assert worker.run(burst=True) == 2
    for answer in (couple, person):
        body = httpx.get(
            f"{served.url}/api/task-status/{answer.json()['task_id']}", headers=served.headers
        ).json()
        assert body["status"] == "completed", body
        gate = body["quality"]["identity_gate"]
        # random weights draw no faces: the gate tries the next seed, then reports honestly
        assert gate == {"attempts": 2, "seeds": gate["seeds"], "passed": False}
        assert "missing_person" in body["quality"]["flags"]
        result = httpx.get(body["image_url"])
        assert result.status_code == 200
        # marked as generative AI: a manifest the C2PA SDK validates, and the watermark
        verdict = rt.provenance.verify(result.content)  # the installation's own key
        assert verdict.manifest.valid and verdict.watermark.found
        assert verdict.manifest.digital_source_type == "trainedAlgorithmicMedia"
        assert verdict.manifest.software_agent == "twoshot/qwen-edit"
        assert body["quality"]["provenance"]["c2pa"] is True


def test_full_size_architecture_has_the_published_parameter_counts() -> None:
    """What bench/gpu_qwen_edit.py builds on a GPU, built on the meta device (no memory)."""
    import torch

    from twoshot.engines.qwen_edit.random_weights import components

    with torch.device("meta"):
        parts = components("full")

    def billions(name: str) -> float:
        return sum(p.numel() for p in parts[name].parameters()) / 1e9

    assert billions("transformer") == pytest.approx(20.43, abs=0.05)
    assert billions("text_encoder") == pytest.approx(8.29, abs=0.05)


def run_with_workers(directory: Path, checkpoint: Path, workers: int) -> dict[int, bytes]:
    """Eight person tasks (seeds 0–7) through a server whose lifespan starts ``workers``
    in-process worker threads, as ``twoshot serve`` does; the result pixels by seed."""
    import time

    import anyio

    from twoshot.runtime import Background
    from twoshot.service.requests import ImageInput, Options, PersonRequest

    settings = tiny_settings(
        directory,
        checkpoint,
        engine="qwen-edit",
        face_checks=False,
        qwen_identity_retries=0,
        watermark_id=1,  # the same mark in both runs (the manifests differ: time, instance id)
        watermark_key="public",  # and the same key (else each data folder makes its own)
    )
    rt = Runtime.build(settings)
    rt.plan(Background(workers=workers))
    served = start_live(rt)
    try:
        key = rt.service.authenticate(served.key)
        ids = {}
        for seed in range(8):
            request = PersonRequest(
                references=[ImageInput("personImages[0]", data=photo("obama2.jpg"))],
                options=Options(prompt="studio portrait", seed=seed, width=512, height=512),
            )
            answer = anyio.run(rt.service.submit_person, key, request)
            ids[seed] = answer["task_id"]
        deadline = time.time() + 300
        while not all(rt.store.get_task(i).status.is_terminal() for i in ids.values()):  # type: ignore[union-attr]
            assert time.time() < deadline, "tasks did not finish"
            time.sleep(0.2)
        assert len({w.owner for w in rt.workers}) == workers
        results = {}
        for seed, task_id in ids.items():
            task = rt.store.get_task(task_id)
            assert task is not None and task.status.value == "completed", task
            data = rt.blobs.get_result(task.result_key)  # type: ignore[arg-type]
            results[seed] = Image.open(io.BytesIO(data)).convert("RGB").tobytes()
        return results
    finally:
        stop_live(served)


def test_two_worker_threads_share_one_pipeline_and_make_the_same_images(
    checkpoint: Path, tmp_path: Path
) -> None:
    """A diffusers pipeline keeps per-call state (the scheduler's step index): two worker
    threads on one pipeline must take turns, and then seed for seed make what one makes."""
    one = run_with_workers(tmp_path / "one", checkpoint, 1)
    two = run_with_workers(tmp_path / "two", checkpoint, 2)
    assert one.keys() == two.keys() == set(range(8))
    assert all(one[seed] == two[seed] for seed in one)
    assert len(set(one.values())) == 8  # the seeds do differ
