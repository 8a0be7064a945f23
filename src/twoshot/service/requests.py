"""What a submission asks for, once the HTTP layer has parsed it; and the checks on options."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from twoshot.domain import MAX_SIZE, MIN_SIZE, SIZE_STEP, Kind
from twoshot.errors import InvalidInput

LAYOUTS = ("male_left", "female_left")
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class ImageInput:
    """One image of a request: uploaded bytes or a URL (``…Url`` fields, batch bodies)."""

    field: str
    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True)
class Submission:
    """How a request is submitted, beside what it asks for."""

    engine: str | None = None
    idempotency_key: str | None = None
    webhook_url: str | None = None
    public_url: str | None = None  # base of image_url, as the client reached us


@dataclass(frozen=True)
class Options:
    prompt: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    layout: str | None = None


@dataclass(frozen=True)
class CoupleRequest:
    male: ImageInput
    female: ImageInput
    pose: ImageInput | None = None
    options: Options = Options()


@dataclass(frozen=True)
class PersonRequest:
    references: list[ImageInput]
    control: ImageInput | None = None
    options: Options = Options()


@dataclass(frozen=True)
class CoupleItem:
    male_index: int
    female_index: int
    pose: str | None = None
    options: Options = Options()


@dataclass(frozen=True)
class PersonItem:
    control: str | None = None
    options: Options = Options()


@dataclass(frozen=True)
class BatchRequest:
    kind: Kind
    males: list[str] = field(default_factory=list)
    females: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    couple_items: list[CoupleItem] = field(default_factory=list)
    person_items: list[PersonItem] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.couple_items) if self.kind == "couple" else len(self.person_items)


@dataclass(frozen=True)
class Resolved:
    """Options after checks and defaults: what goes into the ``JobSpec``."""

    prompt: str
    seed: int
    width: int
    height: int
    layout: str | None


def resolve_options(
    options: Options, *, prefix: str = "", prompt_required: bool, max_prompt_chars: int
) -> Resolved:
    prompt = (options.prompt or "").strip()
    if prompt_required and not prompt:
        raise InvalidInput(
            f"{prefix}prompt is required: describe the picture you want",
            code="missing_field",
            field=f"{prefix}prompt",
        )
    if len(prompt) > max_prompt_chars:
        raise InvalidInput(
            f"{prefix}prompt has {len(prompt)} characters; send at most {max_prompt_chars}",
            field=f"{prefix}prompt",
        )
    seed = options.seed
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    elif not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"{prefix}seed must be between 0 and {MAX_SEED}", field=f"{prefix}seed")
    sizes = {}
    for name in ("width", "height"):
        value = getattr(options, name)
        if value is None:
            value = 1024
        elif not (MIN_SIZE <= value <= MAX_SIZE and value % SIZE_STEP == 0):
            raise InvalidInput(
                f"{prefix}{name} must be a multiple of {SIZE_STEP} between {MIN_SIZE} and "
                f"{MAX_SIZE}; got {value}",
                field=f"{prefix}{name}",
            )
        sizes[name] = value
    layout = options.layout or None  # not given: the engine reads who is who from the pose
    if layout is not None and layout not in LAYOUTS:
        raise InvalidInput(
            f"{prefix}layout must be one of {', '.join(LAYOUTS)}", field=f"{prefix}layout"
        )
    return Resolved(prompt, seed, sizes["width"], sizes["height"], layout)
