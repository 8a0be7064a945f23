"""Sign-in limits that hold under a burst, and links that die when a newer one is issued or
used, on SQLite and PostgreSQL (real threads race them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.store.test_contract import opened_store
from twoshot.errors import InvalidInput, NotFound, RateLimited, Unauthorized
from twoshot.service.accounts import Accounts
from twoshot.store import SqlStore

PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def accounts(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Accounts]:
    with opened_store(request.param, tmp_path) as (store, clock):
        yield Accounts(store, clock=clock)


class Counting:
    """The password hasher, counting the passwords it checks."""

    def __init__(self, accounts: Accounts):
        self.checked = 0
        self._lock = threading.Lock()
        self._hasher = accounts._hasher
        accounts._hasher = self  # type: ignore[assignment]

    def verify(self, hashed: str, password: str) -> bool:
        with self._lock:
            self.checked += 1
        return bool(self._hasher.verify(hashed, password))

    def __getattr__(self, name: str) -> object:
        return getattr(self._hasher, name)


def with_password(accounts: Accounts, email: str) -> None:
    _, token = accounts.create(email)
    accounts.set_password(token, PASSWORD)


def test_forty_wrong_passwords_at_once_get_at_most_five_checked(accounts: Accounts) -> None:
    with_password(accounts, "dev@example.com")
    counting = Counting(accounts)

    def attempt(n: int) -> str:
        try:
            accounts.sign_in("dev@example.com", f"wrong {n}", f"198.51.100.{n}")
        except RateLimited:
            return "429"
        except Unauthorized:
            return "401"
        return "200"

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(attempt, range(40)))
    assert counting.checked <= 5
    assert answers.count("401") == counting.checked
    assert answers.count("429") == 40 - counting.checked
    # and the right password, now, is refused without being checked
    with pytest.raises(RateLimited):
        accounts.sign_in("dev@example.com", PASSWORD, "203.0.113.1")
    assert counting.checked <= 5


def test_a_burst_ending_with_the_right_password_does_not_sign_in(accounts: Accounts) -> None:
    with_password(accounts, "dev@example.com")
    guesses = [f"guess {n}" for n in range(29)] + [PASSWORD]
    signed_in = []
    start = threading.Barrier(len(guesses))

    def attempt(password: str) -> None:
        start.wait()
        try:
            accounts.sign_in("dev@example.com", password, "198.51.100.7")
            signed_in.append(password)
        except (RateLimited, Unauthorized):
            pass

    threads = [threading.Thread(target=attempt, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # only if the right one was among the first five counted: then it is the one that won
    assert signed_in in ([], [PASSWORD])


def test_the_account_limit_comes_before_the_address(accounts: Accounts) -> None:
    store: SqlStore = accounts.store  # type: ignore[assignment]
    with_password(accounts, "admin@example.com")
    for n in range(20):  # one address uses up its 20 on other emails
        with pytest.raises(Unauthorized):
            accounts.sign_in(f"junk{n}@example.com", "x", "192.0.2.66")
    for _ in range(5):  # and is then refused for the admin, without raising the admin's count
        with pytest.raises(RateLimited):
            accounts.sign_in("admin@example.com", "x", "192.0.2.66")
    assert sum(store.counted("sign-in:email:admin@example.com", w) for w in _windows(accounts)) == 0
    # the admin, from their own address, is not locked out
    assert accounts.sign_in("admin@example.com", PASSWORD, "203.0.113.5").account.email


def _windows(accounts: Accounts) -> list[str]:
    window = int(accounts.now() // 900)
    return [f"q:{window}"]


def test_a_newer_link_spends_the_older_ones(accounts: Accounts) -> None:
    account, first = accounts.create("dev@example.com")
    _, second = accounts.reset_link(account.id)
    with pytest.raises(NotFound):  # issuing the second spent the first
        accounts.link_account(first)
    _, third = accounts.reset_link(account.id)
    accounts.set_password(third, PASSWORD)
    for old in (first, second, third):
        with pytest.raises(NotFound):
            accounts.link_account(old)
        with pytest.raises(NotFound):
            accounts.set_password(old, "another strong passphrase 42")
    # another account's links are not touched
    other, theirs = accounts.create("other@example.com")
    accounts.reset_link(account.id)
    assert accounts.link_account(theirs) == other


def test_links_issued_at_once_leave_one_alive(accounts: Accounts) -> None:
    account, _ = accounts.create("dev@example.com")
    start = threading.Barrier(8)
    tokens: list[str] = []

    def issue() -> None:
        start.wait()
        tokens.append(accounts.reset_link(account.id)[1])

    threads = [threading.Thread(target=issue) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    alive = []
    for token in tokens:
        try:
            accounts.link_account(token)
            alive.append(token)
        except NotFound:
            pass
    assert len(alive) == 1


@pytest.mark.parametrize(
    "password",
    [
        "",
        "\x00",
        "aaaaaaaaaa",
        "password1234",
        "qwertyuiop123",
        "dev@example.com1",
        "Summer2026",
        "x" * 300,
    ],
)
def test_guessable_passwords_are_refused(accounts: Accounts, password: str) -> None:
    _, token = accounts.create("dev@example.com")
    with pytest.raises(InvalidInput) as refused:
        accounts.set_password(token, password)
    assert refused.value.code == "weak_password" and refused.value.field == "password"
    assert accounts.link_account(token)  # a refused password leaves the link alive
    assert accounts.set_password(token, "plinth marigold ferry 7").account.has_password
