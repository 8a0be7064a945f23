"""What every ``twoshot`` command shares: the settings and the logging set-up."""

from __future__ import annotations

from twoshot.config import Settings
from twoshot.logs import configure


def load_settings() -> Settings:
    return Settings()


def configure_logging(level: str, settings: Settings) -> None:
    configure(level, settings.log_format)
