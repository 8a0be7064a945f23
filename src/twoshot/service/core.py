"""The use cases: submit, submit a batch, read, cancel, delete. No HTTP here, no torch."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from twoshot.blobs import Blobs
from twoshot.domain import ApiKey, Batch, JobSpec, Kind, Task, TaskStatus, task_ids
from twoshot.errors import InvalidInput, NotFound, RateLimited, Unauthorized
from twoshot.service.intake import Intake, Prepared, Role
from twoshot.service.requests import (
    BatchRequest,
    CoupleRequest,
    ImageInput,
    Options,
    PersonRequest,
    Resolved,
    Submission,
    resolve_options,
)
from twoshot.store import Ended, Idempotency, Store

log = logging.getLogger(__name__)

Callback = tuple[str | None, str | None]  # webhook URL, public base URL
Built = tuple[list[Task], Batch | None]


class Service:
    def __init__(
        self,
        store: Store,
        blobs: Blobs,
        intake: Intake,
        *,
        default_engine: str,
        engines: list[str],
        max_attempts: int = 3,
        max_prompt_chars: int = 2000,
        max_batch_items: int = 100,
        max_batch_references: int = 16,
        result_ttl: float = 24 * 3600.0,
        rate_limit_per_minute: int = 0,
        quota_per_day: int = 0,
        max_queued: int = 0,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.blobs = blobs
        self.intake = intake
        self._default_engine = default_engine
        self._engines = engines
        self._max_attempts = max_attempts
        self._max_prompt = max_prompt_chars
        self._max_items = max_batch_items
        self._max_refs = max_batch_references
        self._result_ttl = result_ttl
        self._per_minute = rate_limit_per_minute
        self._per_day = quota_per_day
        self._max_queued = max_queued
        self._clock = clock

    # -- submission ---------------------------------------------------------------------------

    async def submit_couple(
        self, key: ApiKey, req: CoupleRequest, how: Submission = Submission()
    ) -> dict:
        opts = self._resolve(req.options, prompt_required=False)
        images = [(req.male, Role.REFERENCE), (req.female, Role.REFERENCE)]
        if req.pose is not None:
            images.append((req.pose, Role.POSE))

        def build(prepared: dict[str, Prepared], engine: str, callback: Callback) -> Built:
            spec = self._spec(
                "couple",
                opts,
                male=prepared[req.male.field].key,
                female=prepared[req.female.field].key,
                pose=prepared[req.pose.field].key if req.pose else None,
            )
            return [self._new_task(key, "couple", engine, spec, callback=callback)], None

        return await self._submit(key, how, "couple", images, req.options, 1, build)

    async def submit_person(
        self, key: ApiKey, req: PersonRequest, how: Submission = Submission()
    ) -> dict:
        if not req.references:
            raise InvalidInput(
                "personImages[0] is required: upload 1 to 4 photos of the person",
                code="missing_field",
                field="personImages[0]",
            )
        opts = self._resolve(req.options, prompt_required=True)
        images = [(r, Role.REFERENCE) for r in req.references]
        if req.control is not None:
            images.append((req.control, Role.CONTROL))

        def build(prepared: dict[str, Prepared], engine: str, callback: Callback) -> Built:
            spec = self._spec(
                "person",
                opts,
                references=list(dict.fromkeys(prepared[r.field].key for r in req.references)),
                control=prepared[req.control.field].key if req.control else None,
            )
            return [self._new_task(key, "person", engine, spec, callback=callback)], None

        return await self._submit(key, how, "person", images, req.options, 1, build)

    async def submit_batch(
        self, key: ApiKey, req: BatchRequest, how: Submission = Submission()
    ) -> dict:
        self._check_batch_shape(req)
        if req.kind == "couple":
            resolved = [
                self._resolve(it.options, prompt_required=False, prefix=f"items[{i}].")
                for i, it in enumerate(req.couple_items)
            ]
        else:
            resolved = [
                self._resolve(it.options, prompt_required=True, prefix=f"promptData[{i}].")
                for i, it in enumerate(req.person_items)
            ]

        def build(prepared: dict[str, Prepared], engine: str, callback: Callback) -> Built:
            batch = Batch(
                id="batch-" + uuid.uuid4().hex,
                api_key_id=key.id,
                kind=req.kind,
                created_at=self._now(),
            )
            references = list(
                dict.fromkeys(
                    prepared[f"personImages[{j}]"].key for j in range(len(req.references))
                )
            )
            tasks = []
            for i, opts in enumerate(resolved):
                if req.kind == "couple":
                    item = req.couple_items[i]
                    spec = self._spec(
                        "couple",
                        opts,
                        male=prepared[f"maleImages[{item.male_index}]"].key,
                        female=prepared[f"femaleImages[{item.female_index}]"].key,
                        pose=prepared[f"items[{i}].poseImage"].key if item.pose else None,
                    )
                else:
                    control = req.person_items[i].control
                    spec = self._spec(
                        "person",
                        opts,
                        references=references,
                        control=prepared[f"promptData[{i}].controlImage"].key if control else None,
                    )
                tasks.append(
                    self._new_task(
                        key, req.kind, engine, spec, batch=batch, index=i, callback=callback
                    )
                )
            return tasks, batch

        images = self._batch_images(req)
        return await self._submit(key, how, f"batch-{req.kind}", images, req, req.size, build)

    async def _submit(
        self,
        key: ApiKey,
        how: Submission,
        route: str,
        images: list[tuple[ImageInput, Role]],
        fingerprint: object,
        n_tasks: int,
        build: Callable[[dict[str, Prepared], str, Callback], Built],
    ) -> dict:
        """What every submission does: engine and webhook checks, an idempotent replay, the
        limits, then fetch + check + store the images, build the tasks, commit."""
        engine = self._engine(how.engine)
        callback = await self._callback(how.webhook_url, how.public_url)
        idem = self._idempotency(key, how.idempotency_key, route, engine, images, fingerprint)
        if idem is not None and (answer := self.store.idempotent_response(idem)) is not None:
            return json.loads(answer)
        async with self._admitted(key, n_tasks):
            prepared = await self.intake.prepare(images)
            tasks, batch = build(prepared, engine, callback)
            return self._commit(tasks, batch, prepared.values(), idem)

    @asynccontextmanager
    async def _admitted(self, key: ApiKey, n: int) -> AsyncIterator[None]:
        """Count ``n`` tasks against the key's limits and the queue bound, or refuse with 429.
        A submission that fails after this takes its count back."""
        if self._max_queued and self.store.queued_count() + n > self._max_queued:
            raise RateLimited(
                f"the queue is full ({self._max_queued} tasks waiting); try again shortly",
                code="queue_full",
                retry_after=30,
            )
        now = self._clock()
        # an admin's per-key limits (dashboard) win over the server's defaults; 0: none
        per_minute = _first(key.rate_limit_per_minute, self._per_minute)
        per_day = _first(key.quota_per_day, self._per_day)
        windows: list[tuple[str, float, int, str]] = []  # window, expires_at, limit, what
        if per_minute:
            minute = int(now // 60)
            windows.append((f"m:{minute}", (minute + 2) * 60.0, per_minute, "per minute"))
        if per_day:
            day = int(now // 86400)
            windows.append((f"d:{day}", (day + 2) * 86400.0, per_day, "per day"))
        names = [w[0] for w in windows]
        if windows:
            counts = self.store.count_usage(key.id, [(w[0], w[1]) for w in windows], n)
            for (window, _expires, limit, what), count in zip(windows, counts, strict=True):
                if count > limit:
                    self.store.uncount_usage(key.id, names, n)
                    span = 60 if window.startswith("m:") else 86400
                    retry = int(span - now % span) + 1
                    raise RateLimited(
                        f"this key may submit {limit} task(s) {what}; this request would make "
                        f"{count}. Try again in {retry} s",
                        code="rate_limited" if span == 60 else "quota_exceeded",
                        retry_after=retry,
                    )
        try:
            yield
        except BaseException:
            if windows:
                self.store.uncount_usage(key.id, names, n)
            raise

    def _check_batch_shape(self, req: BatchRequest) -> None:
        items_field = "items" if req.kind == "couple" else "promptData"
        if req.size == 0:
            raise InvalidInput(
                f"{items_field} is empty: send at least one item",
                code="missing_field",
                field=items_field,
            )
        if req.size > self._max_items:
            raise InvalidInput(
                f"{items_field} has {req.size} items; send at most {self._max_items} per batch",
                code="too_many_items",
                field=items_field,
            )
        lists = (
            {"maleImages": req.males, "femaleImages": req.females}
            if req.kind == "couple"
            else {"personImages": req.references}
        )
        for name, urls in lists.items():
            if not urls:
                raise InvalidInput(
                    f"{name} is empty: send at least one image URL",
                    code="missing_field",
                    field=name,
                )
            limit = self._max_refs if req.kind == "couple" else 4
            if len(urls) > limit:
                raise InvalidInput(
                    f"{name} has {len(urls)} images; send at most {limit}",
                    code="too_many_items",
                    field=name,
                )
        for i, item in enumerate(req.couple_items):
            for name, index, urls in (
                ("maleIndex", item.male_index, req.males),
                ("femaleIndex", item.female_index, req.females),
            ):
                if not 0 <= index < len(urls):
                    list_name = name.replace("Index", "Images")
                    raise InvalidInput(
                        f"items[{i}].{name} is {index}, but {list_name} has {len(urls)} "
                        f"image(s): use an index from 0 to {len(urls) - 1}",
                        code="invalid_index",
                        field=f"items[{i}].{name}",
                    )

    @staticmethod
    def _batch_images(req: BatchRequest) -> list[tuple[ImageInput, Role]]:
        images: list[tuple[ImageInput, Role]] = []
        if req.kind == "couple":
            used_m = {it.male_index for it in req.couple_items}
            used_f = {it.female_index for it in req.couple_items}
            images += [
                (ImageInput(f"maleImages[{i}]", url=u), Role.REFERENCE)
                for i, u in enumerate(req.males)
                if i in used_m
            ]
            images += [
                (ImageInput(f"femaleImages[{i}]", url=u), Role.REFERENCE)
                for i, u in enumerate(req.females)
                if i in used_f
            ]
            images += [
                (ImageInput(f"items[{i}].poseImage", url=it.pose), Role.POSE)
                for i, it in enumerate(req.couple_items)
                if it.pose
            ]
        else:
            images += [
                (ImageInput(f"personImages[{i}]", url=u), Role.REFERENCE)
                for i, u in enumerate(req.references)
            ]
            images += [
                (ImageInput(f"promptData[{i}].controlImage", url=it.control), Role.CONTROL)
                for i, it in enumerate(req.person_items)
                if it.control
            ]
        return images

    def _commit(
        self, tasks: list[Task], batch: Batch | None, prepared: object, idem: Idempotency | None
    ) -> dict:
        if batch is None:
            answer: dict = {"task_id": tasks[0].id, "status": "queued"}
        else:
            answer = {"task_id": batch.id, "status": "queued", "task_ids": [t.id for t in tasks]}
        earlier = self.store.submit(tasks, batch, json.dumps(answer), idem)
        if earlier is not None:
            return json.loads(earlier)
        # An input deleted by a concurrent clean-up between our put and our commit is put back:
        # after the commit, no clean-up can see it as unreferenced.
        for p in {p.key: p for p in prepared}.values():  # type: ignore[attr-defined]
            self.intake.store(p)
        log.info(
            "accepted %d task(s)%s",
            len(tasks),
            f" in batch {batch.id}" if batch else f" {tasks[0].id}",
        )
        return answer

    # -- helpers ------------------------------------------------------------------------------

    def _engine(self, requested: str | None) -> str:
        if requested in (None, ""):
            return self._default_engine
        if requested not in self._engines:
            raise InvalidInput(
                f"engine {requested!r} is not served here; use one of: {', '.join(self._engines)}",
                field="engine",
            )
        return requested

    def _resolve(self, options: Options, *, prompt_required: bool, prefix: str = "") -> Resolved:
        return resolve_options(
            options,
            prefix=prefix,
            prompt_required=prompt_required,
            max_prompt_chars=self._max_prompt,
        )

    @staticmethod
    def _spec(kind: Kind, opts: Resolved, **refs: object) -> JobSpec:
        return JobSpec(
            kind=kind,
            prompt=opts.prompt,
            seed=opts.seed,
            width=opts.width,
            height=opts.height,
            layout=opts.layout,  # type: ignore[arg-type]
            **refs,  # type: ignore[arg-type]
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _new_task(
        self,
        key: ApiKey,
        kind: Kind,
        engine: str,
        spec: JobSpec,
        *,
        batch: Batch | None = None,
        index: int | None = None,
        callback: Callback = (None, None),
    ) -> Task:
        now = self._now()
        return Task(
            id=uuid.uuid4().hex,
            api_key_id=key.id,
            kind=kind,
            status=TaskStatus.QUEUED,
            engine=engine,
            spec=spec,
            created_at=now,
            updated_at=now,
            batch_id=batch.id if batch else None,
            batch_index=index,
            max_attempts=self._max_attempts,
            webhook_url=callback[0],
            public_url=callback[1],
        )

    async def _callback(
        self, webhook_url: str | None, public_url: str | None
    ) -> tuple[str | None, str | None]:
        """The checked webhook URL (refused now if a delivery would be refused) and the
        public base URL that deliveries build ``image_url`` from."""
        if not webhook_url:
            return None, public_url
        if len(webhook_url) > 2048:
            raise InvalidInput("webhook_url is longer than 2048 characters", field="webhook_url")
        return await self.intake.check_url(webhook_url, "webhook_url"), public_url

    @staticmethod
    def _idempotency(
        key: ApiKey,
        idempotency_key: str | None,
        route: str,
        engine: str,
        images: list[tuple[ImageInput, Role]],
        options: object,
    ) -> Idempotency | None:
        if not idempotency_key:
            return None
        if len(idempotency_key) > 255:
            raise InvalidInput(
                "Idempotency-Key is longer than 255 characters", field="Idempotency-Key"
            )
        h = hashlib.sha256(f"{route}\n{engine}\n{options!r}\n".encode())
        for item, role in images:
            h.update(f"{item.field}:{role.value}:".encode())
            h.update(
                hashlib.sha256(item.data).digest()
                if item.data is not None
                else (item.url or "").encode()
            )
        return Idempotency(key.id, idempotency_key, h.hexdigest())

    # -- reading and user actions -----------------------------------------------------------------

    def authenticate(self, secret: str | None) -> ApiKey:
        if not secret:
            raise Unauthorized("send your API key in the X-Api-Key header")
        key = self.store.authenticate(secret.strip())
        if key is None:
            raise Unauthorized("the X-Api-Key is unknown or revoked")
        return key

    def status(self, ident: str, secret: str | None) -> Task | Batch:
        """task-status: the key check and the read in one query for plain task ids."""
        if not secret or ident.startswith("batch-") or len(ident) > 64:
            return self.lookup(ident, self.authenticate(secret))
        key, task = self.store.task_for_secret(ident, secret.strip())
        if key is None:
            raise Unauthorized("the X-Api-Key is unknown or revoked")
        if task is None:
            raise NotFound(f"no task or batch {ident!r} for this API key")
        return task

    def lookup(self, task_or_batch_id: str, key: ApiKey) -> Task | Batch:
        found = self._find(task_or_batch_id, key)
        if found is None:
            raise NotFound(f"no task or batch {task_or_batch_id!r} for this API key")
        return found

    def _find(self, ident: str, key: ApiKey) -> Task | Batch | None:
        if len(ident) > 64:
            return None
        if ident.startswith("batch-"):
            return self.store.get_batch(ident, key.id)
        return self.store.get_task(ident, key.id)

    def cancel(self, ident: str, key: ApiKey) -> Task | Batch:
        for task_id in task_ids(self.lookup(ident, key)):
            self.store.cancel(task_id, key.id)
        return self.lookup(ident, key)

    def delete(self, ident: str, key: ApiKey) -> int:
        """Delete a task, or a batch with all its tasks, and their result files. Inputs are
        released by ``tasks_ended`` for tasks that were still running, and were released
        when the others ended."""
        gone: list[Task] | None
        if len(ident) > 64:
            gone = None
        elif ident.startswith("batch-"):
            gone = self.store.delete_batch(ident, key.id)
        else:
            gone = self.store.delete_tasks([ident], key.id) or None
        if gone is None:
            raise NotFound(f"no task or batch {ident!r} for this API key")
        for task in gone:
            if task.result_key:
                self.blobs.delete_result(task.result_key)
        return len(gone)

    def tasks_ended(self, ended: list[Ended]) -> None:
        """The store's end hook: once per ended task, however it ended, wherever (a local
        worker, a remote worker's finish, a cancel, a delete, a lost worker settled)."""
        self.drop_inputs(sorted({k for t in ended for k in t.input_keys}))

    def drop_inputs(self, keys: list[str]) -> None:
        """Delete the input blobs among ``keys`` that no live task references any more."""
        for k in self.store.unreferenced(keys):
            self.blobs.delete_input(k)

    def result_seconds_left(self, name: str) -> float:
        """How long the result is kept still; NotFound if it is gone or never was."""
        task = self.store.task_by_result(name)
        if task is None or task.finished_at is None:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        left = task.finished_at.timestamp() + self._result_ttl - self._clock()
        if left <= 0:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        return left

    def result(self, name: str) -> bytes:
        task = self.store.task_by_result(name)
        fresh = (
            task is not None
            and task.finished_at is not None
            and task.finished_at.timestamp() + self._result_ttl > self._clock()
        )
        data = self.blobs.get_result(name) if fresh else None
        if data is None:
            raise NotFound("no such result: it never existed, was deleted, or has expired")
        return data

    def sweep(
        self, result_ttl: float, input_grace: float, orphan_grace: float = 600.0
    ) -> tuple[int, int]:
        """Delete expired results, orphaned inputs, and result files no task points to (a
        worker whose finish failed after its upload leaves one). Returns (results, inputs)
        deleted. Files younger than their grace period are left: they may be in flight."""
        expired = self.store.expired_results(self._clock() - result_ttl)
        for e in expired:
            self.blobs.delete_result(e.result_key)
            self.store.forget_result(e.task_id)
        candidates = [n for n, age in self.blobs.result_ages() if age > orphan_grace]
        referenced = self.store.referenced_results(candidates)
        orphaned_results = [n for n in candidates if n not in referenced]
        for name in orphaned_results:
            self.blobs.delete_result(name)
        if orphaned_results:
            log.info("retention: %d result file(s) no task points to", len(orphaned_results))
        live = self.store.live_input_keys()
        orphans = [k for k, age in self.blobs.input_ages() if k not in live and age > input_grace]
        for k in orphans:
            self.blobs.delete_input(k)
        return len(expired) + len(orphaned_results), len(orphans)


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
