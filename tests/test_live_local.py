"""Task notifications between processes on one SQLite file (``twoshot.live.LocalNotifier``
and ``LocalListener``): what one process ends wakes the waiters of the others at once, not
at their next re-read."""

from __future__ import annotations

import os
import socket
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from twoshot.live import DATAGRAM, LocalListener, LocalNotifier, local_folder


class Published:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def publish(self, ids: list[str]) -> None:
        self.ids.extend(ids)


def short_folder(tmp_path: Path) -> Path:
    folder = local_folder(f"sqlite:///{tmp_path / 'twoshot.db'}")
    assert folder is not None
    return folder


def listening(folder: Path, stop: threading.Event) -> tuple[LocalListener, Published]:
    events = Published()
    listener = LocalListener(folder, events, stop)  # type: ignore[arg-type]
    threading.Thread(target=listener.run, daemon=True).start()
    return listener, events


def until(check: object, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_other_listener_hears_the_ids_and_its_own_is_skipped(tmp_path: Path) -> None:
    folder, stop = short_folder(tmp_path), threading.Event()
    first, heard_first = listening(folder, stop)
    _, heard_second = listening(folder, stop)
    notifier = LocalNotifier(folder)
    notifier.own = first.path  # the first's own process: woken in memory already
    many = [f"task-{i:06d}-{'x' * 20}" for i in range(3 * DATAGRAM // 30)]  # several datagrams
    notifier(["a", "b"])
    notifier(many)
    until(lambda: len(heard_second.ids) == 2 + len(many))
    assert heard_second.ids == ["a", "b", *many]
    assert heard_first.ids == []
    stop.set()
    until(lambda: not any(folder.glob("*.sock")))  # each listener removes its socket
    notifier(["c"])  # nobody listens: nothing to do, no error
    notifier.close()


def test_a_socket_left_by_a_killed_process_is_removed(tmp_path: Path) -> None:
    folder, stop = short_folder(tmp_path), threading.Event()
    _, heard = listening(folder, stop)
    stale = folder / "999999-dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(stale))
    dead.close()  # the file stays, as after a SIGKILL
    with closing(LocalNotifier(folder)) as notifier:
        notifier(["x"])
    until(lambda: heard.ids == ["x"])
    assert not stale.exists()
    stop.set()


def test_where_the_sockets_live(tmp_path: Path) -> None:
    assert local_folder("sqlite://") is None
    assert local_folder("sqlite:///:memory:") is None
    beside = local_folder(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert beside == tmp_path.resolve() / ".db.sqlite.live"
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # too long a path for a Unix socket beside it
    elsewhere = local_folder(f"sqlite:///{deep / 'db.sqlite'}")
    assert elsewhere is not None and elsewhere.parent != deep
    assert elsewhere == local_folder(f"sqlite:///{deep / 'db.sqlite'}")  # the same for all


def test_a_folder_of_another_user_is_not_used(tmp_path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to make a folder of another user")
    folder = short_folder(tmp_path)
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, 12345)
    with pytest.raises(PermissionError):
        LocalListener(folder, Published(), threading.Event())  # type: ignore[arg-type]
    with closing(LocalNotifier(folder)) as notifier:
        notifier(["x"])  # sends nothing there
