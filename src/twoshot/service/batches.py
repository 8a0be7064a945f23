"""A batch's shape checks and the images it needs: pure functions of the request."""

from __future__ import annotations

from twoshot.errors import InvalidInput
from twoshot.service.intake import Role
from twoshot.service.requests import BatchRequest, ImageInput


def check_batch_shape(req: BatchRequest, *, max_items: int, max_references: int) -> None:
    items_field = "items" if req.kind == "couple" else "promptData"
    if req.size == 0:
        raise InvalidInput(
            f"{items_field} is empty: send at least one item",
            code="missing_field",
            field=items_field,
        )
    if req.size > max_items:
        raise InvalidInput(
            f"{items_field} has {req.size} items; send at most {max_items} per batch",
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
        limit = max_references if req.kind == "couple" else 4
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


def batch_images(req: BatchRequest) -> list[tuple[ImageInput, Role]]:
    """The images a batch uses, each under the field name its errors will point at."""
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
