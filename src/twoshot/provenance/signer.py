"""Who signed a picture's Content Credentials: the signer certificate's SHA-256 fingerprint,
and whether it is this server's own signer.

The SDK validates the signature and reports the signer's serial number and names, but not
the certificate itself, so the certificate is read from the manifest's signature (a COSE
``Sign1`` structure, CBOR, whose protected header carries the chain: label 33, ``x5chain``)
and matched to what the SDK reported. A name or a serial number proves nothing (anyone can
make a CA that issues a certificate with the same ones); "this server's own signer" is
decided by the SDK itself, by validating the signature a second time with this server's own
root as the only trust anchor.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

_BOX = b"c2pa.signature\x00"
X5CHAIN = 33
_PEM, _DER = Encoding.PEM, Encoding.DER


@dataclass(frozen=True)
class OwnSigner:
    """This server's signer: its root (the trust anchor that proves it) and its certificate."""

    root_pem: bytes
    serial: int
    fingerprint: str

    @classmethod
    def from_chain(cls, chain_pem: bytes) -> OwnSigner:
        certs = x509.load_pem_x509_certificates(chain_pem)
        leaf, root = certs[0], certs[-1]
        return cls(
            root_pem=root.public_bytes(_PEM),
            serial=leaf.serial_number,
            fingerprint=fingerprint(leaf.public_bytes(_DER)),
        )


def fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def signer_fingerprint(data: bytes, serial: str | None, common_name: str | None) -> str | None:
    """The fingerprint of the certificate the SDK reported as the signer's (by its serial
    number and common name), found among the file's signatures; ``None`` when no single
    certificate matches."""
    if not serial:
        return None
    found = set()
    for der in _signature_leaves(data):
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        name = str(names[0].value) if names else None
        if str(cert.serial_number) == serial and (common_name is None or name == common_name):
            found.add(fingerprint(der))
    return found.pop() if len(found) == 1 else None


def _signature_leaves(data: bytes) -> list[bytes]:
    """The first certificate of the chain in every C2PA signature box of ``data``."""
    leaves = []
    start = 0
    while (at := data.find(_BOX, start)) >= 0:
        start = at + 1
        cbor = data.find(b"cbor", at, at + 64)  # the box that holds the COSE_Sign1
        if cbor < 4:
            continue
        size = int.from_bytes(data[cbor - 4 : cbor], "big")
        try:
            sign1 = cbor2.loads(data[cbor + 4 : cbor - 4 + size])
            fields = sign1.value if isinstance(sign1, cbor2.CBORTag) else sign1
            protected = cbor2.loads(fields[0]) if fields[0] else {}
            chain = protected.get(X5CHAIN) or fields[1].get(X5CHAIN)
        except Exception:  # a broken or hostile box: no certificate from it
            continue
        leaf = chain[0] if isinstance(chain, list) and chain else chain
        if isinstance(leaf, bytes):
            leaves.append(leaf)
    return leaves
