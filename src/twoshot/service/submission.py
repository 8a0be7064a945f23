"""Submission: a couple, a person or a batch, from checked request to committed tasks."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from twoshot.domain import ApiKey, Batch, JobSpec, Kind, Task, TaskStatus
from twoshot.errors import InvalidInput
from twoshot.service.admission import Admission
from twoshot.service.batches import batch_images, check_batch_shape
from twoshot.service.idempotency import idempotency
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
from twoshot.store import Idempotency, Store

log = logging.getLogger(__name__)


class PromptCheck(Protocol):
    """The prompt policy (``twoshot.safety.PromptPolicy``): raises to refuse a prompt."""

    def check(self, prompt: str, field: str) -> None: ...


Callback = tuple[str | None, str | None]  # webhook URL, public base URL
Built = tuple[list[Task], Batch | None]


class Submissions:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        admission: Admission,
        *,
        default_engine: str,
        engines: list[str],
        max_attempts: int,
        max_prompt_chars: int,
        max_batch_items: int,
        max_batch_references: int,
        clock: Callable[[], float],
        prompts: PromptCheck | None = None,
    ):
        self.store = store
        self._prompts = prompts
        self.intake = intake
        self.admission = admission
        self._default_engine = default_engine
        self._engines = engines
        self._max_attempts = max_attempts
        self._max_prompt = max_prompt_chars
        self._max_items = max_batch_items
        self._max_refs = max_batch_references
        self._clock = clock

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
        check_batch_shape(req, max_items=self._max_items, max_references=self._max_refs)
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

        images = batch_images(req)
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
        idem = idempotency(key, how.idempotency_key, route, engine, images, fingerprint)
        if idem is not None and (earlier := self.store.idempotent_response(idem)) is not None:
            return dict(json.loads(earlier))
        async with self.admission.admitted(key, n_tasks) as admitted:
            prepared = await self.intake.prepare(images)
            tasks, batch = build(prepared, engine, callback)
            answer, replayed = self._commit(tasks, batch, prepared.values(), idem)
            if replayed:  # a request with the same Idempotency-Key committed first
                admitted.refund()
            return answer

    def _commit(
        self, tasks: list[Task], batch: Batch | None, prepared: object, idem: Idempotency | None
    ) -> tuple[dict, bool]:
        """The answer, and whether it is an earlier request's (a lost idempotency race)."""
        if batch is None:
            answer: dict = {"task_id": tasks[0].id, "status": "queued"}
        else:
            answer = {"task_id": batch.id, "status": "queued", "task_ids": [t.id for t in tasks]}
        earlier = self.store.submit(tasks, batch, json.dumps(answer), idem)
        if earlier is not None:
            return json.loads(earlier), True
        # An input deleted by a concurrent clean-up between our put and our commit is put back:
        # after the commit, no clean-up can see it as unreferenced.
        for p in {p.key: p for p in prepared}.values():  # type: ignore[attr-defined]
            self.intake.store(p)
        log.info(
            "accepted %d task(s)%s",
            len(tasks),
            f" in batch {batch.id}" if batch else f" {tasks[0].id}",
        )
        return answer, False

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
        resolved = resolve_options(
            options,
            prefix=prefix,
            prompt_required=prompt_required,
            max_prompt_chars=self._max_prompt,
        )
        if self._prompts is not None:  # before any picture is fetched: a batch item refuses all
            self._prompts.check(resolved.prompt, f"{prefix}prompt")
        return resolved

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
