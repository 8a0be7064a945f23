"""Settings: one object, read from ``TWOSHOT_*`` environment variables, built once by the CLI.

Nothing in twoshot reads the environment anywhere else; every component receives the
``Settings`` (or the few values it needs) from whoever builds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The content policy's defaults, chosen from measurement (bench/safety.py, bench/RESULTS.md).
# Nudity: above the highest open_nsfw score of every test photo, gallery picture and engine
# render, with room for ordinary photos that show more skin than the test set does.
DEFAULT_NSFW_THRESHOLD = 0.5
# Apparent age: the estimator read the adult test photos from 8 years under to 5 years over
# the middle of their known ages (tests/test_demographics.py); a 17-year-old read 5 years
# over is 22, still under 23. Young-looking adults are refused too: it leans to refusing.
DEFAULT_MIN_APPARENT_AGE = 23.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWOSHOT_", extra="ignore")

    data_dir: Path = Path("./twoshot-data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file under data_dir"
    )
    blob_url: str | None = Field(
        default=None, description="s3://bucket/prefix for S3-compatible storage; default: data_dir"
    )
    s3_endpoint_url: str | None = Field(default=None, description="for MinIO, R2, …")
    results_presigned: bool = Field(
        default=False, description="redirect /results/… to expiring presigned S3 URLs"
    )
    public_url: str | None = Field(
        default=None, description="Base URL used in image_url; default: the request's own host"
    )

    engine: str = Field(default="studio", description="engine of tasks that name none")
    engines: list[str] = Field(default_factory=list, description="engines clients may name")
    workers: int = Field(default=1, ge=0, description="in-process workers started by serve")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for people, json for log pipelines"
    )

    # limits on what we accept
    max_upload_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_batch_items: int = 100
    max_batch_references: int = 16
    max_prompt_chars: int = 2000
    reference_max_side: int = 2048
    face_checks: bool = Field(default=True, description="check reference faces at submission")

    # per-key limits, counted in tasks and stored in the database (0: no limit)
    rate_limit_per_minute: int = Field(default=0, ge=0)
    quota_per_day: int = Field(default=0, ge=0)
    max_queued: int = Field(
        default=10_000, ge=0, description="backpressure: queued tasks, all keys"
    )

    # URL fetching
    fetch_allow_private: bool = False
    fetch_connect_timeout: float = 5.0
    fetch_total_timeout: float = 20.0
    fetch_max_redirects: int = 3

    # the studio engine
    scenes: Path | None = Field(
        default=None, description="folder of scene photos with .json sidecars (twoshot scenes)"
    )
    default_scenes: bool = Field(default=True, description="also use the shipped scene pack")

    # the qwen-edit engine (GPU)
    model_dir: Path | None = Field(default=None, description="local Qwen-Image-Edit checkpoint")
    device: str | None = Field(
        default=None, description="cuda, cuda:1, cpu; default: cuda if present"
    )
    qwen_steps: int | None = Field(default=None, description="default 40, or 8 with a LoRA")
    qwen_cfg: float | None = Field(
        default=None, description="true CFG scale; default 4, or 1 with a LoRA"
    )
    qwen_lora: Path | None = Field(default=None, description="step-distilled LoRA (.safetensors)")
    qwen_offload: bool = Field(default=False, description="model CPU offload for smaller GPUs")
    qwen_identity_retries: int = Field(
        default=2, ge=0, description="extra seeds when identity fails"
    )
    qwen_reference_size: int = Field(
        default=512, ge=64, description="side of the references' VAE input (stock: 1024)"
    )

    # provenance: Content Credentials and an invisible watermark on every result
    provenance: str = Field(
        default="c2pa,watermark", description="layers: c2pa, watermark (comma-separated) or none"
    )
    c2pa_cert: Path | None = Field(default=None, description="signer certificate chain (PEM)")
    c2pa_key: Path | None = Field(default=None, description="its private key (PKCS#8 PEM)")
    c2pa_signer_command: str | None = Field(
        default=None, description="a command that signs stdin (KMS/HSM), with c2pa_cert"
    )
    c2pa_alg: str = Field(default="es256", description="es256, es384, ps256, ed25519, …")
    c2pa_tsa_url: str | None = Field(default=None, description="RFC 3161 time-stamp authority")
    c2pa_trust_anchors: Path | None = Field(
        default=None, description="PEM roots whose signers verify reports as trusted"
    )
    watermark_key: str | None = Field(
        default=None,
        description="watermark key; default: one made for this installation at first start "
        "(share it with replicas and remote workers); 'public': twoshot's public key",
    )
    watermark_id: int | None = Field(
        default=None, ge=0, lt=1 << 22, description="server id in the watermark"
    )
    verify_per_minute: int = Field(
        default=30, ge=0, description="POST /api/verify per client address (0: no limit)"
    )
    verify_max_pixels: int = Field(
        default=40_000_000, ge=1, description="the most pixels a picture to verify may have"
    )
    verify_concurrency: int = Field(
        default=2, ge=1, description="verifies at once in one process; the rest wait"
    )
    verify_wait: float = Field(
        default=5.0, ge=0, description="seconds a verify waits for a turn before 429 busy"
    )

    # the HTTP server (twoshot serve)
    trusted_proxies: str = Field(
        default="",
        description="addresses whose X-Forwarded-For/-Proto count (comma-separated, '*': any)",
    )
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to send a request's head"
    )
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, description="a request's head")
    max_connections: int = Field(
        default=1000, ge=0, description="connections one serve holds (0: no limit); then 503"
    )
    metrics_token: str | None = Field(
        default=None, description="bearer token for /metrics on the API port"
    )
    metrics_port: int | None = Field(
        default=None, description="serve /metrics on its own port (and not on the API's)"
    )
    metrics_host: str = Field(default="127.0.0.1", description="the address of that port")

    # the flux2-klein engine (GPU, 24 GB cards)
    flux_model_dir: Path | None = Field(
        default=None, description="local FLUX.2 [klein] checkpoint; default TWOSHOT_MODEL_DIR"
    )
    flux_steps: int | None = Field(default=None, description="default 4 distilled, 50 base")
    flux_guidance: float | None = Field(
        default=None, description="CFG for base checkpoints (default 4); distilled: none"
    )
    flux_offload: bool = Field(default=False, description="model CPU offload for 16 GB cards")
    flux_identity_retries: int = Field(default=2, ge=0)
    flux_reference_size: int = Field(
        default=512, ge=64, description="longer side of each reference crop"
    )

    # accounts and the dashboard
    session_ttl: float = Field(default=7 * 86400.0, gt=0, description="seconds a sign-in lasts")
    sign_in_link_ttl: float = Field(
        default=24 * 3600.0, gt=0, description="seconds a one-time sign-in link stays valid"
    )
    sign_in_failures_per_account: int = Field(
        default=5, ge=1, description="failed sign-ins per email in 15 minutes before 429"
    )
    sign_in_failures_per_address: int = Field(
        default=20, ge=1, description="failed sign-ins per client address in 15 minutes"
    )

    # the content policy (README, "Content policy"; twoshot.safety)
    prompt_policy: Path | None = Field(
        default=None, description="rules that extend (with `replace`: replace) the default ones"
    )
    nsfw_threshold: float = Field(
        default=DEFAULT_NSFW_THRESHOLD,
        ge=0,
        le=1,
        description="nudity score above which a picture is refused; 1: off",
    )
    min_apparent_age: float = Field(
        default=DEFAULT_MIN_APPARENT_AGE,
        ge=0,
        description="faces that look younger are refused (an estimate); 0: off",
    )

    # results without polling (Prefer: wait, the event stream)
    live_recheck: float = Field(
        default=1.0, gt=0, description="seconds between a waiter's re-reads with no notification"
    )

    # webhooks
    webhook_backoff: float = Field(default=5.0, description="first retry delay; ×4 each time")
    webhook_max_attempts: int = 8

    # queue
    lease_seconds: float = 60.0
    max_lease_seconds: float = Field(
        default=600.0, gt=0, description="the longest lease a remote worker may ask for"
    )
    max_attempts: int = 3
    poll_interval: float = 0.5
    drain_seconds: float = Field(
        default=25.0,
        ge=0,
        description="on SIGTERM, seconds to finish the task in hand before handing it back",
    )

    # retention
    result_ttl: float = Field(default=24 * 3600.0, description="seconds a result is kept")
    input_grace: float = Field(
        default=60.0, description="seconds before an unreferenced input is deleted"
    )
    orphan_grace: float = Field(
        default=600.0, description="seconds before a result file no task points to is deleted"
    )
    sweep_interval: float = 60.0

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'twoshot.db').resolve()}"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def allowed_engines(self) -> list[str]:
        return self.engines or [self.engine]
