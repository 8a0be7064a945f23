"""The use cases of twoshot, below HTTP: submission with its checks, reading, cancel, delete."""

from twoshot.service.core import Service
from twoshot.service.intake import InputChecks, Intake, NoChecks, Role
from twoshot.service.requests import (
    BatchRequest,
    CoupleItem,
    CoupleRequest,
    ImageInput,
    Options,
    PersonItem,
    PersonRequest,
    Submission,
)

__all__ = [
    "BatchRequest",
    "CoupleItem",
    "CoupleRequest",
    "ImageInput",
    "InputChecks",
    "Intake",
    "NoChecks",
    "Options",
    "PersonItem",
    "PersonRequest",
    "Role",
    "Service",
    "Submission",
]
