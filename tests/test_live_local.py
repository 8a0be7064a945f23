"""Task notifications between processes on one SQLite file (``twoshot.live_sqlite.LocalNotifier``
and ``LocalListener``): what one process ends wakes the waiters of the others at once, not
at their next re-read."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from twoshot.live_sqlite import SMALL, LocalListener, LocalNotifier, local_folder


class Published:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.woken_all = 0

    def publish(self, ids: list[str]) -> None:
        self.ids.extend(ids)

    def wake_all(self) -> None:
        self.woken_all += 1


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder short enough for Unix sockets wherever pytest puts its temporary files."""
    base = Path(tempfile.mkdtemp(prefix="ts-", dir="/tmp"))
    try:
        yield base / "live"
    finally:
        shutil.rmtree(base, ignore_errors=True)


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


def test_every_other_listener_hears_the_ids_and_its_own_is_skipped(folder: Path) -> None:
    stop = threading.Event()
    first, heard_first = listening(folder, stop)
    _, heard_second = listening(folder, stop)
    with closing(LocalNotifier(folder)) as notifier:
        notifier.own = first  # the first's own process: woken in memory already
        notifier(["a", "b"])
        until(lambda: heard_second.ids == ["a", "b"])
        many = [f"task-{i:06d}" for i in range(SMALL // 10)]  # a large batch: wake everyone
        notifier(many)
        until(lambda: heard_second.woken_all == 1)
        assert heard_first.ids == [] and heard_first.woken_all == 0
        stop.set()
        until(lambda: not folder.exists())  # each listener removes its socket, the last the folder
        notifier(["c"])  # nobody listens: nothing to do, no error


def test_a_listener_that_does_not_read_silences_no_other(folder: Path) -> None:
    """Datagrams queued at a listener count against their sender's buffer: with one sending
    socket for all, a stuck listener's queue could fill it and silence every other. (Here a
    queue holds 10 datagrams, net.unix.max_dgram_qlen, too few to fill it; hosts that raise
    that limit to 512, as systemd does, could.)"""
    stop = threading.Event()
    _, heard = listening(folder, stop)
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # alive, never reads
    stuck.bind(str(folder / "1-stuck.sock"))
    try:
        with closing(LocalNotifier(folder)) as notifier:
            for i in range(2000):  # the stuck one's queue fills (the other may miss some)
                notifier([f"t{i}-{'x' * 700}"])
            for i in range(20):  # and then the other still hears (its own full queue aside)
                deadline = time.monotonic() + 5
                while f"after-{i}" not in heard.ids:
                    assert time.monotonic() < deadline, "the stuck listener silenced the other"
                    notifier([f"after-{i}"])
                    time.sleep(0.01)
    finally:
        stuck.close()
        stop.set()


def test_a_socket_left_by_a_killed_process_is_removed_and_nothing_else(folder: Path) -> None:
    stop = threading.Event()
    _, heard = listening(folder, stop)
    stale = folder / "999999-dead.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(stale))
    dead.close()  # the file stays, as after a SIGKILL
    plain = folder / "not-a-socket.sock"
    plain.write_text("a file of someone's")
    with closing(LocalNotifier(folder)) as notifier:
        notifier(["x"])
    until(lambda: heard.ids == ["x"])
    assert not stale.exists() and plain.exists()
    stop.set()


def test_a_listener_whose_socket_file_is_removed_binds_again(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LocalListener, "CHECK_EVERY", 0.1)
    stop = threading.Event()
    listener, heard = listening(folder, stop)
    first = listener.path
    first.unlink()  # a cleaner of the temporary directory
    until(lambda: listener.path != first and listener.path.exists())
    assert heard.woken_all == 1  # what was sent meanwhile is re-read
    with closing(LocalNotifier(folder)) as notifier:
        notifier(["y"])
    until(lambda: heard.ids == ["y"])
    stop.set()


def test_where_the_sockets_live(folder: Path) -> None:
    assert local_folder("sqlite://") is None
    assert local_folder("sqlite:///:memory:") is None
    base = folder.parent
    assert local_folder(f"sqlite:///{base / 'db.sqlite'}") == base.resolve() / ".db.sqlite.live"
    deep = base / ("d" * 60) / ("e" * 60)  # too long a path for a Unix socket beside it
    elsewhere = local_folder(f"sqlite:///{deep / 'db.sqlite'}")
    assert elsewhere is not None and elsewhere.parent == Path(tempfile.gettempdir())
    assert elsewhere == local_folder(f"sqlite:///{deep / 'db.sqlite'}")  # the same for all


def test_a_folder_planted_by_someone_else_is_not_used(folder: Path) -> None:
    folder.parent.joinpath("elsewhere").mkdir(mode=0o700)
    folder.symlink_to(folder.parent / "elsewhere")  # a link, even to a folder of ours
    with pytest.raises(PermissionError):
        LocalListener(folder, Published(), threading.Event())  # type: ignore[arg-type]
    folder.unlink()
    folder.mkdir(mode=0o755)  # one that others may enter
    with pytest.raises(PermissionError):
        LocalListener(folder, Published(), threading.Event())  # type: ignore[arg-type]
    if os.getuid() == 0:
        folder.chmod(0o700)
        os.chown(folder, 12345, 12345)  # another user's
        with pytest.raises(PermissionError):
            LocalListener(folder, Published(), threading.Event())  # type: ignore[arg-type]
    with closing(LocalNotifier(folder)) as notifier:
        notifier(["x"])  # sends nothing there, raises nothing
