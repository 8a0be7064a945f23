"""Content Credentials (C2PA) with the official SDK, ``c2pa-python``: sign a result, read one.

The manifest says how the picture was made and by what, never who is in it: one
``c2pa.created`` action with the IPTC digital source type, the generator (twoshot, its
version, the engine) and the time. No ingredients (the reference photos are biometric data,
and so are their hashes), no prompt, no key or account, no thumbnail.

The signer is the operator's: a certificate chain and a PKCS#8 key (``TWOSHOT_C2PA_CERT``,
``TWOSHOT_C2PA_KEY``), or a command that signs (``TWOSHOT_C2PA_SIGNER_COMMAND``, for a KMS or
an HSM: it gets the bytes to sign on stdin and prints the signature). With neither, a
development CA and signer are made in the data dir: the manifest is valid, and verifiers
show its signer as untrusted, which is the truth.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa

from twoshot.provenance.signer import OwnSigner, signer_fingerprint

log = logging.getLogger(__name__)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
_ALGS = {a.name.lower(): a for a in c2pa.C2paSigningAlg}
# no claim thumbnail: it would be a second copy of the picture inside the file (3 KB and
# ~3 ms to sign without it, 130 KB and ~100 ms with it, at 1024²)
_SIGN_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


class CredentialsError(Exception):
    """The signing configuration cannot be used; the message says what to fix."""


@dataclass(frozen=True)
class SignerConfig:
    cert: Path | None = None
    key: Path | None = None
    command: str | None = None
    alg: str = "es256"
    tsa_url: str | None = None


class Credentials:
    """Signs JPEG results. One per process; the SDK's signer is reused for every result."""

    def __init__(self, chain_pem: bytes, signer: Any, *, development: bool):
        self.chain_pem = chain_pem
        self.development = development
        self.own = OwnSigner.from_chain(chain_pem)
        self._signer = signer
        self._context = c2pa.Context.from_dict(_SIGN_SETTINGS)

    @classmethod
    def configure(cls, config: SignerConfig, data_dir: Path) -> Credentials:
        alg = _ALGS.get(config.alg.lower())
        if alg is None:
            raise CredentialsError(
                f"TWOSHOT_C2PA_ALG={config.alg!r} is not a C2PA algorithm; use one of "
                + ", ".join(_ALGS)
            )
        if config.command:
            if config.cert is None:
                raise CredentialsError(
                    "TWOSHOT_C2PA_SIGNER_COMMAND needs TWOSHOT_C2PA_CERT: the certificate "
                    "chain (PEM, end-entity first) of the key the command signs with"
                )
            chain = _read(config.cert, "TWOSHOT_C2PA_CERT")
            signer = c2pa.Signer.from_callback(
                _command_signer(config.command), alg, chain.decode(), config.tsa_url
            )
            return cls(chain, signer, development=False)
        if config.cert or config.key:
            if not (config.cert and config.key):
                raise CredentialsError(
                    "set both TWOSHOT_C2PA_CERT (certificate chain, PEM) and TWOSHOT_C2PA_KEY "
                    "(its private key, PKCS#8 PEM), or neither for a development certificate"
                )
            chain, key = (
                _read(config.cert, "TWOSHOT_C2PA_CERT"),
                _read(config.key, "TWOSHOT_C2PA_KEY"),
            )
            if b"BEGIN PRIVATE KEY" not in key:
                raise CredentialsError(
                    "TWOSHOT_C2PA_KEY must be a PKCS#8 PEM key ('BEGIN PRIVATE KEY'); convert "
                    "it with: openssl pkcs8 -topk8 -nocrypt -in key.pem -out key.pk8.pem"
                )
            return cls(chain, _signer(alg, chain, key, config.tsa_url), development=False)
        chain, key = development_certificate(data_dir / "provenance")
        return cls(chain, _signer(alg, chain, key, None), development=True)

    def sign(self, jpeg: bytes, *, source_type: str, engine: str, version: str) -> bytes:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        manifest = {
            "claim_generator_info": [{"name": "twoshot", "version": version}],
            "title": "twoshot result",
            "format": "image/jpeg",
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {
                        "actions": [
                            {
                                "action": "c2pa.created",
                                "digitalSourceType": IPTC + source_type,
                                "softwareAgent": {"name": f"twoshot/{engine}", "version": version},
                                "when": now,
                            }
                        ]
                    },
                }
            ],
        }
        out = io.BytesIO()
        with c2pa.Builder(manifest, context=self._context) as builder:
            builder.sign(self._signer, "image/jpeg", io.BytesIO(jpeg), out)
        return out.getvalue()


@dataclass(frozen=True)
class ManifestReport:
    present: bool
    valid: bool = False
    trusted: bool = False
    state: str | None = None  # the SDK's: Invalid, Valid or Trusted
    digital_source_type: str | None = None
    generator: str | None = None
    software_agent: str | None = None
    created: str | None = None
    signer: str | None = None
    issuer: str | None = None
    failures: tuple[str, ...] = ()
    # the signer certificate's SHA-256 (hex), when the file's signature holds exactly one
    # certificate that matches what the SDK validated
    signer_fingerprint: str | None = None
    # who the signer is, for a valid manifest: "this_server" (this server's own signer,
    # proved by its own root), "trust_anchor" (chains to TWOSHOT_C2PA_TRUST_ANCHORS), or
    # "unknown" (valid, but anyone could have made that certificate)
    signed_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body = dict(self.__dict__)
        body["failures"] = list(self.failures)
        return body


def read_manifest(
    data: bytes, mime: str, trust_anchors: bytes | None = None, own: OwnSigner | None = None
) -> ManifestReport:
    """What the picture's Content Credentials say, checked by the SDK. ``trusted`` needs
    ``trust_anchors`` (PEM) that include the signer's root; ``signed_by`` is
    ``this_server`` only for this server's own signer (``own``)."""
    read = _reader(data, mime, trust_anchors)
    if read is None:
        return ManifestReport(present=False)
    state, manifest, results = read
    failures = tuple(
        f.get("code", "") for f in results.get("activeManifest", {}).get("failure", [])
    )
    action = _created_action(manifest)
    generators = manifest.get("claim_generator_info") or [{}]
    agent = action.get("softwareAgent") or {}
    info = manifest.get("signature_info") or {}
    valid = state in ("Valid", "Trusted")
    serial = info.get("cert_serial_number")
    signer = info.get("common_name")
    fingerprint = signer_fingerprint(data, serial, signer) if valid else None
    signed_by = None
    if valid:
        signed_by = "trust_anchor" if state == "Trusted" else "unknown"
        if own is not None and fingerprint == own.fingerprint and serial == str(own.serial):
            again = _reader(data, mime, own.root_pem)  # the proof: it chains to our own root
            if again is not None and again[0] == "Trusted":
                signed_by = "this_server"
    return ManifestReport(
        present=True,
        valid=valid,
        trusted=state == "Trusted",
        state=state,
        digital_source_type=(action.get("digitalSourceType") or "").removeprefix(IPTC) or None,
        generator=" ".join(
            str(x) for x in (generators[0].get("name"), generators[0].get("version")) if x
        )
        or None,
        software_agent=agent.get("name") if isinstance(agent, dict) else str(agent),
        created=action.get("when"),
        signer=signer,
        issuer=info.get("issuer"),
        failures=failures,
        signer_fingerprint=fingerprint,
        signed_by=signed_by,
    )


def _reader(
    data: bytes, mime: str, trust_anchors: bytes | None
) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    settings: dict[str, Any] = {}
    if trust_anchors:
        settings = {
            "trust": {"trust_anchors": trust_anchors.decode()},
            "verify": {"verify_trust": True},
        }
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(settings)) as r:
            return (
                str(r.get_validation_state()),
                r.get_active_manifest() or {},
                r.get_validation_results() or {},
            )
    except c2pa.C2paError:
        return None


def _created_action(manifest: dict[str, Any]) -> dict[str, Any]:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    return dict(action)
    return {}


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{setting}: cannot read {path}: {exc.strerror}") from None


def _signer(alg: Any, chain: bytes, key: bytes, tsa_url: str | None) -> Any:
    try:
        return c2pa.Signer.from_info(
            c2pa.C2paSignerInfo(alg.name.lower().encode(), chain, key, tsa_url)
        )
    except c2pa.C2paError as exc:
        raise CredentialsError(f"the C2PA SDK refused the certificate or key: {exc}") from None


def _command_signer(command: str) -> Any:
    argv = shlex.split(command)

    def sign(data: bytes) -> bytes:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=30, check=False)
        if done.returncode != 0:
            raise CredentialsError(
                f"TWOSHOT_C2PA_SIGNER_COMMAND exited {done.returncode}: "
                + done.stderr.decode(errors="replace")[-300:]
            )
        return done.stdout

    return sign


def development_certificate(directory: Path) -> tuple[bytes, bytes]:
    """A development CA and an end-entity signer it certifies, made once in ``directory``:
    (the chain, PEM, signer first; the signer's PKCS#8 key). The SDK refuses a lone
    self-signed certificate, and wants ``emailProtection`` among the signer's uses."""
    chain_path, key_path = directory / "dev-signer-chain.pem", directory / "dev-signer-key.pem"
    if chain_path.exists() and key_path.exists():
        return chain_path.read_bytes(), key_path.read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twoshot development (untrusted)"),
            ]
        )

    def usage(*, sign: bool, ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = name("twoshot development CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False, ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("twoshot development signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    pkcs8 = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "dev-ca.pem").write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(chain)
    key_path.touch(mode=0o600)
    key_path.write_bytes(pkcs8)
    log.warning(
        "C2PA: no TWOSHOT_C2PA_CERT/TWOSHOT_C2PA_KEY set; made a development certificate in %s. "
        "Results are signed with it and verifiers show the signer as untrusted. Install your "
        "own certificate for production (README: Provenance).",
        directory,
    )
    return chain, pkcs8
