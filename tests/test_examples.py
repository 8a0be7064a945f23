"""The Python examples of the reference API file, run verbatim against a real `twoshot serve`
with its default engine. Only the base URL, the key and the photo paths are changed."""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.conftest import DATA
from tests.process import Server, cli, env_for
from tests.servers import serve_directory

pytestmark = pytest.mark.slow

# Copied from ../shared/api/couple-person-image-api.txt, character for character.
COUPLE = """import requests
url = "https://taiapi.aiphotocraft.com/api/couple_image"
headers = {
"X-Api-Key": "YOUR_API_KEY",
"accept": "application/json",
}
files = {
"maleImage": ("male.jpg", open("male.jpg", "rb"), "image/jpeg"),
"femaleImage": ("female.jpg", open("female.jpg", "rb"), "image/jpeg"),
# "poseImage": ("pose.jpg", open("pose.jpg", "rb"), "image/jpeg"), # optional
}
response = requests.post(url, headers=headers, files=files)
print(response.status_code, response.text)"""

COUPLE_BATCH = """import requests
url = "https://taiapi.aiphotocraft.com/api/couple_image/batch"
headers = {
"X-Api-Key": "YOUR_API_KEY",
"accept": "application/json",
"Content-Type": "application/json",
}
data = {
"femaleImages": [
"https://example.com/female1.jpg"
],
"maleImages": [
"https://example.com/male1.jpg"
],
"items": [
{
"femaleIndex": 0,
"maleIndex": 0,
"poseImage": "https://example.com/pose.jpg",
"prompt": "happy couple at the beach"
}
]
}
response = requests.post(url, headers=headers, json=data)
print(response.status_code, response.text)"""

PERSON = """import requests
url = "https://taiapi.aiphotocraft.com/api/person_image"
headers = {
"X-Api-Key": "YOUR_API_KEY",
"accept": "application/json",
}
files = {
"personImages[0]": ("person1.jpg", open("person1.jpg", "rb"), "image/jpeg"),
# "personImages[1]": ("person2.jpg", open("person2.jpg", "rb"), "image/jpeg"), # optional
# "personImages[2]": ("person3.jpg", open("person3.jpg", "rb"), "image/jpeg"), # optional
# "personImages[3]": ("person4.jpg", open("person4.jpg", "rb"), "image/jpeg"), # optional
# "controlImage": ("control.jpg", open("control.jpg", "rb"), "image/jpeg"), # optional
}
data = {
"prompt": "portrait photo of the person smiling in studio lighting",
}
response = requests.post(url, headers=headers, files=files, data=data)
print(response.status_code, response.text)"""

PERSON_BATCH = """import requests
url = "https://taiapi.aiphotocraft.com/api/person_image_batch"
headers = {
"X-Api-Key": "YOUR_API_KEY",
"accept": "application/json",
"Content-Type": "application/json",
}
data = {
"personImages": [
"https://example.com/person1.jpg",
"https://example.com/person2.jpg",
],
"promptData": [
{
"controlImage": "https://example.com/control1.jpg",
"prompt": "studio portrait, soft lighting",
},
{
"controlImage": "https://example.com/control2.jpg",
"prompt": "outdoor portrait in a park",
},
],
}
response = requests.post(url, headers=headers, json=data)
print(response.status_code, response.text)"""

SOURCE = Path(__file__).parent.parent.parent / "shared" / "api" / "couple-person-image-api.txt"


def test_the_copies_match_the_reference_file() -> None:
    if not SOURCE.exists():
        pytest.skip("the reference file lives beside the checkout only")
    text = SOURCE.read_text()
    for example in (COUPLE, COUPLE_BATCH, PERSON, PERSON_BATCH):
        assert example in text


def adapt(example: str, base: str, key: str, files: str) -> str:
    out = example.replace("https://taiapi.aiphotocraft.com", base).replace("YOUR_API_KEY", key)
    return out.replace("https://example.com", files)


def run_example(code: str, workdir: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        exec(compile(code, "<example>", "exec"), {})
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out.strip()
    status, _, body = printed.partition(" ")
    assert status == "200", printed
    return __import__("json").loads(body)


def wait_completed(base: str, key: str, task_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        body = httpx.get(f"{base}/api/task-status/{task_id}", headers={"X-Api-Key": key}).json()
        if body["status"] in ("completed", "failed", "canceled"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish: {body}")


# the examples open files without closing them, as written in the reference
@pytest.mark.filterwarnings(
    "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning"
)
def test_reference_examples_verbatim(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_reference_examples(tmp_path, capsys)  # default engine: studio


def run_reference_examples(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    faces: bool = True,
    timeout: float = 120,
    **env_extra: str,
) -> list[tuple[dict, bytes]]:
    """The four examples against ``twoshot serve`` with ``env_extra``; every task completes
    with a 1024² JPEG (and, with ``faces``, every person found in it). Returns each final
    task-status body with its image."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for target, source in {
        "male.jpg": "obama.jpg",
        "female.jpg": "astronaut.jpg",
        "person1.jpg": "obama.jpg",
        "male1.jpg": "obama2.jpg",
        "female1.jpg": "astronaut.jpg",
        "pose.jpg": "obama3.jpg",
        "person2.jpg": "obama2.jpg",
        "control1.jpg": "obama3.jpg",
        "control2.jpg": "astronaut.jpg",
    }.items():
        shutil.copy(DATA / source, photos / target)
    env = env_for(tmp_path / "data", TWOSHOT_FETCH_ALLOW_PRIVATE="true", **env_extra)
    key = cli(env, "keys", "create", "--name", "examples").stdout.strip()
    assert re.fullmatch(r"ts_[A-Za-z0-9_-]{40,}", key)
    server = Server(env, tmp_path / "serve.log")
    bodies = []
    try:
        with serve_directory(photos) as files_url:
            tasks = []
            for example in (COUPLE, COUPLE_BATCH, PERSON, PERSON_BATCH):
                answer = run_example(adapt(example, server.url, key, files_url), photos, capsys)
                assert answer["status"] == "queued"
                tasks.append(answer["task_id"])
            for task_id in tasks:
                body = wait_completed(server.url, key, task_id, timeout)
                assert body["status"] == "completed", body
                image = httpx.get(body["image_url"])
                assert image.status_code == 200
                decoded = Image.open(io.BytesIO(image.content))
                decoded.load()
                assert decoded.format == "JPEG" and decoded.size == (1024, 1024)
                if "tasks" in body:
                    assert all(t["status"] == "completed" for t in body["tasks"])
                elif faces:
                    assert all(p["found"] for p in body["quality"]["persons"]), body["quality"]
                bodies.append((body, image.content))
    finally:
        server.stop()
    return bodies
