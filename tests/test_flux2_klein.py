"""The flux2-klein engine on CPU with no weights: a tiny random-weight FLUX.2 [klein] built
from configs, saved in the real checkpoint layout (plain and KV-cache variants) and loaded
back through the users' loader. Run alone with ``pytest -m diffusion``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("diffusers", reason="needs the diffusion extra: pip install '.[diffusion]'")

from tests.conftest import make_settings
from tests.diffusion import (
    check_progress_each_step_and_cancel_at_the_next,
    check_seeds_reproduce_and_shared_jobs_run_as_one_call,
)
from tests.photos import load
from tests.process import cli, env_for
from twoshot.domain import JobSpec
from twoshot.engines import Job, load_engine

pytestmark = pytest.mark.diffusion


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from twoshot.engines.flux2_klein.random_weights import components, save_checkpoint

    root = tmp_path_factory.mktemp("flux")
    parts = components("tiny")
    return {
        "plain": save_checkpoint(parts, root / "FLUX.2-klein-tiny"),
        "kv": save_checkpoint(parts, root / "FLUX.2-klein-tiny-kv", kv=True),
    }


def tiny_settings(directory: Path, checkpoint: Path, **extra: object):  # type: ignore[no-untyped-def]
    """Two steps, one identity retry, small references: seconds on a CPU."""
    values: dict = {
        "flux_model_dir": checkpoint,
        "device": "cpu",
        "flux_steps": 2,
        "flux_identity_retries": 1,
        "flux_reference_size": 64,
    }
    return make_settings(directory, **(values | extra))


@pytest.fixture(scope="session", params=["plain", "kv"])
def engine(request: pytest.FixtureRequest, checkpoints: dict[str, Path], tmp_path_factory):  # type: ignore[no-untyped-def]
    settings = tiny_settings(tmp_path_factory.mktemp("e"), checkpoints[request.param])
    return load_engine("flux2-klein", settings)


def job(spec: JobSpec) -> Job:
    images = {"m": load("obama"), "f": load("astronaut"), "c": load("obama3")}
    return Job("t", spec, images)


def test_the_checkpoint_says_which_pipeline(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from diffusers import Flux2KleinKVPipeline, Flux2KleinPipeline

    plain = load_engine("flux2-klein", tiny_settings(tmp_path / "p", checkpoints["plain"]))
    kv = load_engine("flux2-klein", tiny_settings(tmp_path / "k", checkpoints["kv"]))
    assert type(plain._pipe) is Flux2KleinPipeline and type(kv._pipe) is Flux2KleinKVPipeline  # type: ignore[attr-defined]
    assert plain.checkpoint.distilled and kv.checkpoint.kv  # type: ignore[attr-defined]
    assert plain.call_options() == {"guidance_scale": 1.0} and kv.call_options() == {}  # type: ignore[attr-defined]
    base = tmp_path / "base"
    shutil.copytree(checkpoints["plain"], base)
    index = json.loads((base / "model_index.json").read_text())
    index["is_distilled"] = False
    (base / "model_index.json").write_text(json.dumps(index))
    undistilled = load_engine("flux2-klein", make_settings(tmp_path / "b", flux_model_dir=base))
    assert undistilled.steps == 50 and undistilled.call_options() == {"guidance_scale": 4.0}  # type: ignore[attr-defined]


def test_incomplete_model_dir_is_named(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from twoshot.engines.flux2_klein.loading import ModelDirError, check_model_dir

    broken = tmp_path / "broken"
    shutil.copytree(checkpoints["plain"], broken)
    shutil.rmtree(broken / "text_encoder")
    (broken / "vae" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelDirError) as err:
        check_model_dir(broken)
    for name in ("text_encoder/config.json", "text_encoder/*.safetensors", "vae/*.safetensors"):
        assert name in str(err.value)
    with pytest.raises(ModelDirError, match="TWOSHOT_FLUX_MODEL_DIR"):
        check_model_dir(None)


@pytest.mark.parametrize("engine_name", ["flux2-klein", "qwen-edit"])
def test_worker_with_an_empty_or_partial_model_dir_exits_naming_what_is_missing(
    engine_name: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    partial = tmp_path / "partial"
    (partial / "transformer").mkdir(parents=True)
    (partial / "model_index.json").write_text("{}")
    (partial / "transformer" / "config.json").write_text("{}")
    for model_dir, expected in (
        (empty, ["model_index.json", "transformer/config.json", "vae/config.json"]),
        (partial, ["transformer/*.safetensors", "text_encoder/config.json"]),
    ):
        env = env_for(tmp_path / "data", TWOSHOT_MODEL_DIR=str(model_dir), TWOSHOT_DEVICE="cpu")
        done = cli(env, "worker", "--engine", engine_name, "--burst")
        assert done.returncode != 0
        assert "Traceback" not in done.stderr, done.stderr
        for name in expected:
            assert name in done.stderr, (name, done.stderr)
        if model_dir is partial:
            assert "model_index.json" not in done.stderr.split("missing:")[1]


def test_conditions_name_who_is_in_which_picture(engine) -> None:  # type: ignore[no-untyped-def]
    images, text = engine.conditions(
        job(JobSpec(kind="couple", male="m", female="f", pose="c", prompt="beach"))
    )
    assert len(images) == 2 or "Picture 3 is a pose skeleton" in text
    assert "Picture 1 shows a man" in text and "beach" in text
    # crops at TWOSHOT_FLUX_REFERENCE_SIZE (64 here), yet never under the pipeline's 64 px
    assert all(min(im.size) >= 64 for im in images) and max(images[0].size) <= 96


def test_progress_each_step_and_cancel_at_the_next(engine) -> None:  # type: ignore[no-untyped-def]
    check_progress_each_step_and_cancel_at_the_next(engine, job)


def test_seeds_reproduce_and_shared_jobs_run_as_one_call(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    check_seeds_reproduce_and_shared_jobs_run_as_one_call(engine, job, monkeypatch)


def test_identity_gate_retries_the_next_seed(engine) -> None:  # type: ignore[no-untyped-def]
    [outcome] = engine.generate(
        [job(JobSpec(kind="person", references=["m"], prompt="p", seed=7, width=256, height=256))],
        lambda _f: None,
    )
    # random weights draw no face: the gate tries seed 8, then reports honestly
    assert outcome.notes["identity_gate"] == {"attempts": 2, "seeds": [7, 8], "passed": False}
    assert outcome.notes["reference_kv_cache"] is engine.checkpoint.kv


@pytest.mark.slow
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_reference_examples_with_flux2_klein(
    checkpoints: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TWOSHOT_ENGINE=flux2-klein: the reference file's four examples, verbatim, through
    ``twoshot serve`` and its worker, to completed 1024² results marked as AI-made."""
    from tests.test_examples import run_reference_examples
    from twoshot.provenance import verify

    bodies = run_reference_examples(
        tmp_path,
        capsys,
        faces=False,  # random weights draw no faces
        timeout=300,
        TWOSHOT_ENGINE="flux2-klein",
        TWOSHOT_FLUX_MODEL_DIR=str(checkpoints["kv"]),
        TWOSHOT_DEVICE="cpu",
        TWOSHOT_FLUX_STEPS="2",
        TWOSHOT_FLUX_IDENTITY_RETRIES="0",
        TWOSHOT_FLUX_REFERENCE_SIZE="64",
    )
    single = [(b, image) for b, image in bodies if "tasks" not in b]
    assert single and all(b["engine"] == "flux2-klein" for b, _ in single)
    assert all(b["quality"]["reference_kv_cache"] is True for b, _ in single)
    verdict = verify(single[0][1])
    assert verdict.manifest.digital_source_type == "trainedAlgorithmicMedia"
    assert verdict.manifest.software_agent == "twoshot/flux2-klein"


@pytest.mark.parametrize(
    ("variant", "transformer", "text_encoder"), [("4b", 3.88, 4.02), ("9b", 9.08, 8.19)]
)
def test_full_size_architecture_has_the_published_parameter_counts(
    variant: str, transformer: float, text_encoder: float
) -> None:
    """What bench/gpu_flux2_klein.py builds on a GPU, built on the meta device (no memory)."""
    import torch

    from twoshot.engines.flux2_klein.random_weights import components

    with torch.device("meta"):
        parts = components(variant)

    def billions(name: str) -> float:
        return sum(p.numel() for p in parts[name].parameters()) / 1e9

    assert billions("transformer") == pytest.approx(transformer, abs=0.05)
    assert billions("text_encoder") == pytest.approx(text_encoder, abs=0.05)
    assert billions("vae") == pytest.approx(0.084, abs=0.01)
