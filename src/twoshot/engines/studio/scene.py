"""Prompt → scene: a documented vocabulary read from free text. Unknown words are ignored;
what was used is reported in the task's ``quality.scene``.

A prompt names up to one of each: a place, a time of day, a weather, a grade. "happy couple
at the beach at sunset" is the beach, at golden hour. A time or weather alone puts the
people in an open field.

| place | words |
|---|---|
| beach | beach, sea, ocean, coast, seaside |
| park | park, garden, forest, woods, nature, trees |
| field | field, meadow, countryside, outdoors, outdoor (the default outdoor place) |
| city | city, street, urban, downtown, nightlife |
| mountains | snow, winter, ski, mountains, snowy, alps |
| room | indoor, indoors, home, living room, room, cafe, restaurant, office, bar |
| studio | studio, portrait, soft light, backdrop (the default) |

| time | words |
|---|---|
| day | day, daylight, noon, morning, afternoon, sunny (the default) |
| golden | sunset, golden hour, dusk, sundown, sunrise, dawn, evening |
| night | night, nighttime, midnight, moonlight, starry |

| weather | words |
|---|---|
| clear | (the default) |
| overcast | cloudy, overcast, grey sky, gray sky |
| fog | fog, foggy, mist, misty, haze |
| rain | rain, rainy, raining |
| snowfall | snowing, snowfall, snowstorm, falling snow |

| grade | words |
|---|---|
| mono | black and white, b&w, monochrome, grayscale, greyscale |
| warm | warm, cozy, golden |
| cool | cool, cold, blue, moody |

The scene is painted by :mod:`~twoshot.engines.studio.backdrop`, and says where its light
comes from (:class:`~twoshot.engines.studio.light.Light`), deterministically for a seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twoshot.engines.studio.light import Light

PLACES: dict[str, tuple[str, ...]] = {
    "beach": ("beach", "sea", "ocean", "coast", "seaside"),
    "park": ("park", "garden", "forest", "woods", "nature", "trees"),
    "field": ("field", "meadow", "countryside", "outdoors", "outdoor"),
    "city": ("city", "street", "urban", "downtown", "nightlife"),
    "mountains": ("snow", "winter", "ski", "mountains", "snowy", "alps"),
    "room": (
        "indoor",
        "indoors",
        "home",
        "living room",
        "room",
        "cafe",
        "café",
        "restaurant",
        "office",
        "bar",
    ),
    "studio": ("studio", "portrait", "soft light", "soft lighting", "backdrop"),
}
TIMES: dict[str, tuple[str, ...]] = {
    "day": ("day", "daylight", "noon", "morning", "afternoon", "sunny"),
    "golden": ("sunset", "golden hour", "dusk", "sundown", "sunrise", "dawn", "evening"),
    "night": ("night", "nighttime", "midnight", "moonlight", "starry"),
}
WEATHERS: dict[str, tuple[str, ...]] = {
    "overcast": ("cloudy", "overcast", "grey sky", "gray sky"),
    "fog": ("fog", "foggy", "mist", "misty", "haze"),
    "rain": ("rain", "rainy", "raining"),
    "snowfall": ("snowing", "snowfall", "snowstorm", "falling snow"),
}
GRADES: dict[str, tuple[str, ...]] = {
    "mono": ("black and white", "b&w", "monochrome", "grayscale", "greyscale"),
    "warm": ("warm", "cozy", "golden"),
    "cool": ("cool", "cold", "blue", "moody"),
}
INDOOR = ("room", "studio")


@dataclass
class Scene:
    place: str = "studio"
    time: str = "day"
    weather: str = "clear"
    grade: str | None = None
    words: list[str] = field(default_factory=list)

    @property
    def background(self) -> str:  # the older name of ``place``
        return self.place

    def light(self, seed: int) -> Light:
        side = 1.0 if np.random.default_rng(seed).random() < 0.5 else -1.0
        if self.place in INDOOR:
            if self.place == "studio":
                return Light(side, 5200, 0.5, 0.35, 150)
            return Light(side, 3600, 0.4, 0.25, 125)
        if self.weather in ("overcast", "fog", "rain"):
            return Light(side, 6800, 0.15, 0.08, 135 if self.weather != "rain" else 110)
        if self.time == "golden":
            return Light(side, 3000, 0.9, 0.9, 135)
        if self.time == "night":
            return Light(side, 3300, 0.45, 0.55, 80)
        return Light(side, 5600, 0.75, 0.3, 160)

    def report(self, seed: int) -> dict[str, Any]:
        light = self.light(seed)
        return {
            "place": self.place,
            "time": self.time,
            "weather": self.weather,
            "light": {
                "from": "left" if light.side < 0 else "right",
                "kelvin": light.kelvin,
                "hardness": light.hardness,
            },
            "grade": self.grade,
            "words": self.words,
            "background": self.place,
        }


def _find(text: str, vocabulary: dict[str, tuple[str, ...]]) -> tuple[str, str] | None:
    """The vocabulary's first word in ``text``: (its name, the word)."""
    hits = []
    for name, words in vocabulary.items():
        for w in words:
            m = re.search(r"(?<![a-z])" + re.escape(w) + r"(?![a-z])", text)
            if m:
                hits.append((m.start(), -len(w), name, w))
    if not hits:
        return None
    _, _, name, word = min(hits)
    return name, word


def read_prompt(prompt: str) -> Scene:
    """Place, time, weather and grade, each the first of its words in the prompt. Generic
    words (outdoor, studio, portrait) only count when no place is named; a time or weather
    with no place is outdoors, in a field."""
    text = prompt.lower()
    scene = Scene()
    # a named place wins over the generic ones ("outdoor portrait in a park" is a park)
    places = {k: v for k, v in PLACES.items() if k not in ("studio", "field")}
    place = (
        _find(text, places)
        or _find(text, {"field": PLACES["field"]})
        or _find(text, {"studio": PLACES["studio"]})
    )
    time = _find(text, TIMES)
    weather = _find(text, WEATHERS)
    grade = _find(text, GRADES)
    if place:
        scene.place = place[0]
    if time:
        scene.time = time[0]
    if weather:
        scene.weather = weather[0]
    if grade and not (time and grade[1] in time[1]):  # "golden hour" is a time, not a grade
        scene.grade = grade[0]
    if (time or weather) and (place is None or place[0] == "studio"):
        scene.place = "field"  # a sunset or the rain happen outdoors
    for found in (place, time, weather, grade):
        if found and found[1] not in scene.words:
            scene.words.append(found[1])
    scene.words.sort(key=text.find)
    return scene
