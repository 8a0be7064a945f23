"""The four POST routes of the reference API, with the exact field names it documents.

Single routes are multipart (files, or ``…Url`` form fields as the file alternative); batch
routes are JSON. Each answers 200 with a task id once the request is checked and stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from twoshot.api.deps import api_key, base_url, runtime
from twoshot.api.live import PREFER_DOC, answer_after_waiting
from twoshot.api.views import ERRORS, SUBMIT_ERRORS, Submitted
from twoshot.domain import ApiKey
from twoshot.errors import InvalidInput
from twoshot.images import Limits, check_size
from twoshot.service import (
    BatchRequest,
    CoupleItem,
    CoupleRequest,
    ImageInput,
    Options,
    PersonItem,
    PersonRequest,
    Submission,
)

router = APIRouter(prefix="/api", tags=["generation"], responses={**ERRORS, **SUBMIT_ERRORS})

WEBHOOK_DOC = "POSTed the task-status body, signed, when each task ends (Standard Webhooks)"
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", description="Retries with the same key return the first answer"
    ),
]
Prefer = Annotated[str | None, Header(alias="Prefer", description=PREFER_DOC)]
OptStr = Annotated[str | None, Form()]
OptInt = Annotated[int | None, Form()]
OptFile = Annotated[UploadFile | None, File()]


async def _image(
    request: Request, field: str, upload: UploadFile | None, url: str | None
) -> ImageInput | None:
    if upload is not None and (upload.filename or upload.size):
        if upload.size is not None:
            check_size(
                upload.size, Limits(max_bytes=runtime(request).settings.max_upload_bytes), field
            )
        return ImageInput(field, data=await upload.read())
    if url:
        return ImageInput(field, url=url)
    return None


def _how(
    request: Request, engine: str | None, idempotency_key: str | None, webhook_url: str | None
) -> Submission:
    return Submission(engine, idempotency_key, webhook_url, public_url=base_url(request))


def _required(item: ImageInput | None, field: str, what: str) -> ImageInput:
    if item is None:
        raise InvalidInput(
            f"{field} is required: upload {what} as the file field {field} (or give {field}Url)",
            code="missing_field",
            field=field,
        )
    return item


@router.post(
    "/couple_image",
    response_model=Submitted,
    response_model_exclude_none=True,
    summary="Couple image from a man's and a woman's photo",
)
async def couple_image(
    request: Request,
    key: Annotated[ApiKey, Depends(api_key)],
    maleImage: OptFile = None,
    femaleImage: OptFile = None,
    poseImage: OptFile = None,
    maleImageUrl: OptStr = None,
    femaleImageUrl: OptStr = None,
    poseImageUrl: OptStr = None,
    prompt: OptStr = None,
    seed: OptInt = None,
    width: OptInt = None,
    height: OptInt = None,
    layout: Annotated[str | None, Form(description="male_left (default) or female_left")] = None,
    engine: OptStr = None,
    webhook_url: Annotated[str | None, Form(description=WEBHOOK_DOC)] = None,
    idempotency_key: IdemKey = None,
    prefer: Prefer = None,
) -> Any:
    req = CoupleRequest(
        male=_required(
            await _image(request, "maleImage", maleImage, maleImageUrl),
            "maleImage",
            "the man's photo",
        ),
        female=_required(
            await _image(request, "femaleImage", femaleImage, femaleImageUrl),
            "femaleImage",
            "the woman's photo",
        ),
        pose=await _image(request, "poseImage", poseImage, poseImageUrl),
        options=Options(prompt=prompt, seed=seed, width=width, height=height, layout=layout),
    )
    answer = await runtime(request).service.submit_couple(
        key, req, _how(request, engine, idempotency_key, webhook_url)
    )
    return await answer_after_waiting(request, key, answer, prefer)


@router.post(
    "/person_image",
    response_model=Submitted,
    response_model_exclude_none=True,
    summary="Single-person image from 1–4 photos and a prompt",
)
async def person_image(
    request: Request,
    key: Annotated[ApiKey, Depends(api_key)],
    person0: Annotated[UploadFile | None, File(alias="personImages[0]")] = None,
    person1: Annotated[UploadFile | None, File(alias="personImages[1]")] = None,
    person2: Annotated[UploadFile | None, File(alias="personImages[2]")] = None,
    person3: Annotated[UploadFile | None, File(alias="personImages[3]")] = None,
    controlImage: OptFile = None,
    person0_url: Annotated[str | None, Form(alias="personImages[0]Url")] = None,
    person1_url: Annotated[str | None, Form(alias="personImages[1]Url")] = None,
    person2_url: Annotated[str | None, Form(alias="personImages[2]Url")] = None,
    person3_url: Annotated[str | None, Form(alias="personImages[3]Url")] = None,
    controlImageUrl: OptStr = None,
    prompt: OptStr = None,
    seed: OptInt = None,
    width: OptInt = None,
    height: OptInt = None,
    engine: OptStr = None,
    webhook_url: Annotated[str | None, Form(description=WEBHOOK_DOC)] = None,
    idempotency_key: IdemKey = None,
    prefer: Prefer = None,
) -> Any:
    references = []
    for i, (upload, url) in enumerate(
        [
            (person0, person0_url),
            (person1, person1_url),
            (person2, person2_url),
            (person3, person3_url),
        ]
    ):
        item = await _image(request, f"personImages[{i}]", upload, url)
        if item is not None:
            references.append(item)
    req = PersonRequest(
        references=references,
        control=await _image(request, "controlImage", controlImage, controlImageUrl),
        options=Options(prompt=prompt, seed=seed, width=width, height=height),
    )
    answer = await runtime(request).service.submit_person(
        key, req, _how(request, engine, idempotency_key, webhook_url)
    )
    return await answer_after_waiting(request, key, answer, prefer)


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seed: int | None = None
    width: int | None = None
    height: int | None = None

    def options(self, prompt: str | None, layout: str | None = None) -> Options:
        return Options(
            prompt=prompt, seed=self.seed, width=self.width, height=self.height, layout=layout
        )


class CoupleBatchItem(_Item):
    femaleIndex: int
    maleIndex: int
    poseImage: str | None = Field(default=None, description="pose image URL")
    prompt: str
    layout: str | None = None


class CoupleBatchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    femaleImages: list[str] = Field(description="female subject image URLs")
    maleImages: list[str] = Field(description="male subject image URLs")
    items: list[CoupleBatchItem]
    engine: str | None = None
    webhook_url: str | None = Field(default=None, description=WEBHOOK_DOC)


class PersonBatchItem(_Item):
    controlImage: str | None = Field(default=None, description="control image URL")
    prompt: str


class PersonBatchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    personImages: list[str] = Field(description="person reference image URLs (1–4)")
    promptData: list[PersonBatchItem]
    engine: str | None = None
    webhook_url: str | None = Field(default=None, description=WEBHOOK_DOC)


@router.post(
    "/couple_image/batch",
    response_model=Submitted,
    response_model_exclude_none=True,
    summary="Batch of couple images (JSON)",
)
async def couple_image_batch(
    request: Request,
    body: CoupleBatchBody,
    key: Annotated[ApiKey, Depends(api_key)],
    idempotency_key: IdemKey = None,
    prefer: Prefer = None,
) -> Any:
    req = BatchRequest(
        kind="couple",
        males=body.maleImages,
        females=body.femaleImages,
        couple_items=[
            CoupleItem(it.maleIndex, it.femaleIndex, it.poseImage, it.options(it.prompt, it.layout))
            for it in body.items
        ],
    )
    answer = await runtime(request).service.submit_batch(
        key, req, _how(request, body.engine, idempotency_key, body.webhook_url)
    )
    return await answer_after_waiting(request, key, answer, prefer)


@router.post(
    "/person_image_batch",
    response_model=Submitted,
    response_model_exclude_none=True,
    summary="Batch of person images (JSON)",
)
async def person_image_batch(
    request: Request,
    body: PersonBatchBody,
    key: Annotated[ApiKey, Depends(api_key)],
    idempotency_key: IdemKey = None,
    prefer: Prefer = None,
) -> Any:
    req = BatchRequest(
        kind="person",
        references=body.personImages,
        person_items=[PersonItem(it.controlImage, it.options(it.prompt)) for it in body.promptData],
    )
    answer = await runtime(request).service.submit_batch(
        key, req, _how(request, body.engine, idempotency_key, body.webhook_url)
    )
    return await answer_after_waiting(request, key, answer, prefer)
