"""Accounts and the dashboard's use cases: sign-in links, passwords, sign-in with throttling,
sessions, and the usage report. No HTTP here.

Passwords are hashed with argon2id (``argon2-cffi``, its recommended parameters); an unknown
email costs the same hash as a wrong password and gets the same answer.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from twoshot.domain import Account, ApiKey
from twoshot.errors import InvalidInput, NotFound, RateLimited, Unauthorized
from twoshot.safety.refusals import CODES as REFUSALS
from twoshot.store import Hit, Store, UsageRow

OUTCOMES = ("completed", "failed", "canceled")
MIN_SCORE = 3  # zxcvbn: 0 (too guessable) … 4 (very unguessable)
_EMPTY: dict[str, Any] = {
    "score": 0,
    "feedback": {"warning": "The password is empty.", "suggestions": []},
}
MAX_PASSWORD = 256
THROTTLE_WINDOW = 900.0  # failed sign-ins count in fixed 15-minute windows


@dataclass(frozen=True)
class SignedIn:
    account: Account
    session: str  # the cookie's secret
    csrf: str


@dataclass(frozen=True)
class UsageReport:
    """Images per day and key by outcome, oldest day first, and time percentiles."""

    days: list[str]  # ISO dates, UTC
    keys: list[ApiKey]
    # day index → key id → outcome → count
    counts: list[dict[str, dict[str, int]]]
    wait: dict[str, float | None]  # p50, p90, p99 of queue wait, seconds
    run: dict[str, float | None]  # and of run time
    sampled: int  # completed tasks the percentiles come from
    # day index → key id → content-policy code → count (twoshot.safety: refused submissions
    # and withheld results)
    refusals: list[dict[str, dict[str, int]]] = field(default_factory=list)

    def refusal_totals(self) -> list[dict[str, int]]:
        """Per day, per refusal code, all keys together."""
        out = []
        for day in self.refusals or [{} for _ in self.days]:
            total = dict.fromkeys(REFUSALS, 0)
            for per_key in day.values():
                for code, n in per_key.items():
                    total[code] = total.get(code, 0) + n
            out.append(total)
        return out

    def totals(self) -> list[dict[str, int]]:
        """Per day, per outcome, all keys together."""
        out = []
        for day in self.counts:
            total = dict.fromkeys(OUTCOMES, 0)
            for per_key in day.values():
                for outcome, n in per_key.items():
                    total[outcome] += n
            out.append(total)
        return out

    def as_dict(self) -> dict:
        return {
            "days": [
                {
                    "date": date,
                    **total,
                    "keys": {k: dict(v) for k, v in per_key.items()},
                    "refusals": refused,
                }
                for date, total, per_key, refused in zip(
                    self.days, self.totals(), self.counts, self.refusal_totals(), strict=True
                )
            ],
            "keys": [{"id": k.id, "name": k.name, "prefix": k.prefix} for k in self.keys],
            "queue_wait_seconds": self.wait,
            "run_seconds": self.run,
            "sampled_tasks": self.sampled,
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["date", "key_id", "key_name", *OUTCOMES])
        names = {k.id: k.name for k in self.keys}
        for date, per_key in zip(self.days, self.counts, strict=True):
            for key_id in sorted(per_key):
                row = per_key[key_id]
                writer.writerow(
                    [date, key_id, _csv_safe(names.get(key_id, ""))]
                    + [row.get(o, 0) for o in OUTCOMES]
                )
        return out.getvalue()


def _csv_safe(text: str) -> str:
    """A key name that a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """p50, p90, p99 by the nearest-rank method; ``None`` without values."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for p in (50, 90, 99):
        if not ordered:
            out[f"p{p}"] = None
            continue
        rank = max(1, -(-p * len(ordered) // 100))  # ceil(p/100 · n)
        out[f"p{p}"] = round(ordered[rank - 1], 3)
    return out


class Accounts:
    def __init__(
        self,
        store: Store,
        *,
        session_ttl: float = 7 * 86400.0,
        link_ttl: float = 24 * 3600.0,
        failures_per_account: int = 5,
        failures_per_address: int = 20,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self._session_ttl = session_ttl
        self._link_ttl = link_ttl
        self._per_account = failures_per_account
        self._per_address = failures_per_address
        self._clock = clock
        self._hasher = PasswordHasher()

    @cached_property
    def _dummy(self) -> str:
        """What an unknown email's password is checked against: the same cost as a real one."""
        return self._hasher.hash("no account has this password")

    def now(self) -> float:
        return self._clock()

    # -- the operator's side ----------------------------------------------------------------

    def create(self, email: str, name: str = "", *, admin: bool = False) -> tuple[Account, str]:
        """A new account and a one-time sign-in link token for setting its password."""
        email = email.strip()
        if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
            raise InvalidInput(f"{email!r} is not an email address", field="email")
        account = self.store.create_account(email, name, is_admin=admin)
        return account, self.store.create_sign_in_link(account.id, self._link_ttl)

    def reset_link(self, id_or_email: str) -> tuple[Account, str]:
        account = self._account(id_or_email)
        return account, self.store.create_sign_in_link(account.id, self._link_ttl)

    def set_disabled(self, id_or_email: str, disabled: bool, *, by: str | None = None) -> Account:
        """``by``: the admin asking, who may not disable themselves (by id or by email)."""
        account = self._account(id_or_email)
        if disabled and account.id == by:
            raise InvalidInput("an admin cannot disable their own account", field="account_id")
        changed = self.store.set_disabled(account.id, disabled)
        assert changed is not None
        return changed

    def _account(self, id_or_email: str) -> Account:
        account = self.store.get_account(id_or_email)
        if account is None:
            raise NotFound(f"no account {id_or_email!r}")
        return account

    # -- the developer's side ---------------------------------------------------------------

    def link_account(self, token: str) -> Account:
        account = self.store.sign_in_link(token)
        if account is None:
            raise NotFound(
                "this sign-in link has expired or was used already; ask the operator for a "
                "new one (twoshot accounts reset-password)",
                code="link_expired",
            )
        return account

    def set_password(self, token: str, password: str) -> SignedIn:
        """Spend a sign-in link on a password, and sign in (a new session)."""
        known = self.store.sign_in_link(token)
        self._check_password(password, known.email if known else "")
        account = self.store.use_sign_in_link(token, self._hasher.hash(password))
        if account is None:
            self.link_account(token)  # raises with the reason
            raise NotFound("this sign-in link cannot be used", code="link_expired")
        return self._new_session(account)

    def sign_in(self, email: str, password: str, address: str) -> SignedIn:
        """Email and password, or 401 with one message whatever was wrong; 429 after
        ``failures_per_account`` attempts for one email, or ``failures_per_address`` from one
        address, within the throttle window.

        An attempt is counted before its password is checked, by the statement that checks
        the limit (``Store.count``): of 40 wrong passwords sent at once, at most the limit
        are checked. The account's limit comes first, so an address that has used up its own
        count does not raise the account's (nor lock its owner out); a right password clears
        the account's count and takes its attempt back from the address's."""
        now = self._clock()
        window = int(now // THROTTLE_WINDOW)
        expires = (window + 2) * THROTTLE_WINDOW
        hits = [
            Hit(
                f"sign-in:email:{email.strip().lower()[:254]}",
                f"q:{window}",
                expires,
                self._per_account,
            ),
            Hit(f"sign-in:addr:{address[:200]}", f"q:{window}", expires, self._per_address),
        ]
        if self.store.count(hits) is not None:
            retry = int((window + 1) * THROTTLE_WINDOW - now) + 1
            raise RateLimited(
                f"too many failed sign-ins; try again in {retry} s",
                code="too_many_sign_ins",
                retry_after=retry,
            )
        found = self.store.password_hash(email) if len(password) <= MAX_PASSWORD else None
        try:
            self._hasher.verify(found[1] if found else self._dummy, password[:MAX_PASSWORD])
            ok = found is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or found is None:
            raise Unauthorized("the email or the password is wrong", code="sign_in_failed")
        account, hashed = found
        if self._hasher.check_needs_rehash(hashed):
            self.store.set_password(account.id, self._hasher.hash(password))
        self.store.clear_count(hits[0].subject)
        self.store.uncount(hits[1:])
        return self._new_session(account)

    def session(self, token: str | None) -> tuple[Account, str] | None:
        if not token or len(token) > 100:
            return None
        return self.store.session(token)

    def sign_out(self, token: str | None) -> None:
        if token:
            self.store.end_session(token)

    def _new_session(self, account: Account) -> SignedIn:
        session, csrf = self.store.create_session(account.id, self._session_ttl)
        return SignedIn(account, session, csrf)

    @staticmethod
    def _check_password(password: str, email: str = "") -> None:
        """Strong enough by zxcvbn's estimate (Dropbox's, which knows common passwords,
        words, names, keyboard walks, repeats and dates), not by a length rule: at least
        ``MIN_SCORE`` of 4, about 10^8 guesses."""
        if len(password) > MAX_PASSWORD:
            raise InvalidInput(
                f"the password is over {MAX_PASSWORD} characters",
                code="weak_password",
                field="password",
            )
        # zxcvbn's time grows with the length; the first 100 characters decide it (and it
        # fails on an empty string, which is as weak as a password gets)
        inputs = [x for x in (email, *email.split("@")) if x]
        estimate = zxcvbn(password[:100], user_inputs=inputs) if password else _EMPTY
        if estimate["score"] < MIN_SCORE:
            advice = " ".join(
                [estimate["feedback"].get("warning") or "", *estimate["feedback"]["suggestions"]]
            ).strip()
            raise InvalidInput(
                "the password is too easy to guess"
                + (f": {advice}" if advice else "; add words or characters"),
                code="weak_password",
                field="password",
            )

    # -- the usage report -------------------------------------------------------------------

    def usage(
        self, account_id: str | None, *, days: int = 30, key_id: str | None = None
    ) -> UsageReport:
        """The last ``days`` days (today included, UTC) of the account's keys, or one key."""
        now = self._clock()
        today = int(now // 86400)
        first = today - days + 1
        keys = [k for k in self.store.list_keys(account_id) if key_id is None or k.id == key_id]
        rows: list[UsageRow] = self.store.usage(account_id, first, key_id)
        counts: list[dict[str, dict[str, int]]] = [{} for _ in range(days)]
        for r in rows:
            per_key = counts[r.day - first].setdefault(r.api_key_id, dict.fromkeys(OUTCOMES, 0))
            per_key[r.status] = per_key.get(r.status, 0) + r.count
        refusals: list[dict[str, dict[str, int]]] = [{} for _ in range(days)]
        for r in self.store.refusals(account_id, first, key_id):
            per_key = refusals[r.day - first].setdefault(r.api_key_id, {})
            per_key[r.status] = per_key.get(r.status, 0) + r.count
        timings = self.store.durations(account_id, first * 86400.0, key_id)
        return UsageReport(
            days=[
                datetime.fromtimestamp((first + i) * 86400, UTC).date().isoformat()
                for i in range(days)
            ],
            keys=keys,
            counts=counts,
            wait=percentiles([w for w, _ in timings]),
            run=percentiles([r for _, r in timings]),
            sampled=len(timings),
            refusals=refusals,
        )
