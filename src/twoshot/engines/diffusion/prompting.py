"""What the model is shown: reference crops, the pose as a skeleton, and a prompt that says
which picture is whom, so that identities neither swap nor blend."""

from __future__ import annotations

from PIL import Image

from twoshot.vision import detect_faces, find_people, render_skeleton


def reference_crop(image: Image.Image, size: int = 768) -> Image.Image:
    """Head and shoulders around the main face (the whole photo if none is found)."""
    faces = detect_faces(image)
    if faces:
        face = faces[0]
        cx, cy = face.center
        half = max(face.width, face.height) * 1.6
        box = (
            max(0, int(cx - half)),
            max(0, int(cy - half * 0.9)),
            min(image.width, int(cx + half)),
            min(image.height, int(cy + half * 1.5)),
        )
        image = image.crop(box)
    image = image.copy()
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def skeleton(image: Image.Image, people: int) -> Image.Image | None:
    found = find_people(image, max_people=people)
    if not found:
        return None
    return render_skeleton(found, image.size)


def couple_prompt(scene: str, *, with_pose: bool, male_left: bool) -> str:
    left, right = ("man", "woman") if male_left else ("woman", "man")
    lines = [
        "Picture 1 shows a man. Picture 2 shows a woman.",
        "Create one photorealistic photograph of this man and this woman together as a couple.",
    ]
    if with_pose:
        lines.append(
            "Picture 3 is a pose skeleton: place them exactly in its two poses, "
            f"the {left} on the left and the {right} on the right."
        )
    else:
        lines.append(f"The {left} stands on the left, the {right} on the right.")
    lines.append(
        "The man keeps exactly the face of picture 1 and the woman exactly the face of picture 2: "
        "do not blend, swap or alter their faces, skin tone, age or hair."
    )
    if scene:
        lines.append(f"Scene: {scene}")
    return " ".join(lines)


def person_prompt(scene: str, *, references: int, with_control: bool) -> str:
    refs = (
        "Picture 1 shows a person." if references == 1 else "Pictures 1 and 2 show the same person."
    )
    lines = [refs, "Create one photorealistic photograph of this person."]
    if with_control:
        lines.append(
            f"Picture {references + 1} is a pose skeleton: use exactly its pose and framing."
        )
    lines.append("Keep the person's face, skin tone, age and hair exactly as in the reference.")
    if scene:
        lines.append(f"Scene: {scene}")
    return " ".join(lines)
