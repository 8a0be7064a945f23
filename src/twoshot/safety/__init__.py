"""The content policy: prompts refused at submission, every picture in and out screened for
nudity, apparent minors refused, refusals counted per key and day. README, "Content policy".
"""

from twoshot.safety.inputs import InputScreen, apparent_ages
from twoshot.safety.nsfw import NsfwModel, NsfwScreen
from twoshot.safety.policy import DEFAULT_MIN_APPARENT_AGE, DEFAULT_NSFW_THRESHOLD, ContentPolicy
from twoshot.safety.prompts import PromptPolicy
from twoshot.safety.refusals import CODES, counted

__all__ = [
    "CODES",
    "DEFAULT_MIN_APPARENT_AGE",
    "DEFAULT_NSFW_THRESHOLD",
    "ContentPolicy",
    "InputScreen",
    "NsfwModel",
    "NsfwScreen",
    "PromptPolicy",
    "apparent_ages",
    "counted",
]
