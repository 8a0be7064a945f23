"""An invisible watermark that survives what happens to pictures on the way to a viewer:
JPEG re-encoding, downscaling and cropping.

How it works (a tiled spread-spectrum mark, after Kutter's self-referencing watermarks):

- A secret key seeds a tile of ±1 "chips" (32 × 32). Half the chips are a fixed sync
  pattern; the others carry the payload's bits, each bit spread over 16 chips whose sign it
  flips. The tile is repeated over the whole picture, scaled so that one tile spans 1/8 of
  the picture's shorter side, and added to the luminance with a strength that follows the
  local texture (less in flat sky, more in hair and fabric).
- To read it, the picture's high-pass residual is taken, the tile's period is measured from
  the residual's autocorrelation (a downscale changes it), the picture is resampled so the
  period is 64 pixels, and the residual is folded into one 64 × 64 tile (a crop only shifts
  it). A cyclic cross-correlation with the sync pattern finds the shift; its peak, in
  standard deviations of the correlation surface, is the detection score. At that shift each
  bit is the sign of its chips' correlation, and a CRC-8 over the payload confirms it.

The payload is 32 bits: ``ai_generated`` (1), ``composite`` (1), a 22-bit server id, and the
CRC. Nothing about the people in the picture is in it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cv2
import numpy as np

CHIPS = 32  # chips per tile side
FOLD = 64  # pixels per tile side when reading (2 px a chip)
TILES_PER_SIDE = 8  # tiles across the shorter side when writing
SYNC_THRESHOLD = 6.0  # detection score (peak z) for "found"; unmarked pictures stay below ~5
PAYLOAD_BITS = 32
DATA_BITS = 24


@dataclass(frozen=True)
class Payload:
    ai_generated: bool
    composite: bool
    server_id: int  # 0 ≤ id < 2**22

    def bits(self) -> np.ndarray:
        value = (int(self.ai_generated) << 23) | (int(self.composite) << 22) | self.server_id
        data = [(value >> (DATA_BITS - 1 - i)) & 1 for i in range(DATA_BITS)]
        crc = _crc8(value.to_bytes(3, "big"))
        return np.array(data + [(crc >> (7 - i)) & 1 for i in range(8)], dtype=np.int8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        value = int("".join(str(int(b)) for b in bits[:DATA_BITS]), 2)
        crc = int("".join(str(int(b)) for b in bits[DATA_BITS:]), 2)
        if crc != _crc8(value.to_bytes(3, "big")):
            return None
        return cls(bool(value >> 23 & 1), bool(value >> 22 & 1), value & ((1 << 22) - 1))


@dataclass(frozen=True)
class Detection:
    found: bool
    score: float  # the sync peak in standard deviations; ≥ SYNC_THRESHOLD counts as found
    confidence: float  # 0–1, from the score
    payload: Payload | None  # None when not found or when the bits failed their CRC


def _crc8(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


class Watermark:
    def __init__(self, key: bytes = b"twoshot watermark v1", strength: float = 2.6):
        seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "big")
        rng = np.random.default_rng(seed)
        self.chips = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(CHIPS, CHIPS))
        order = rng.permutation(CHIPS * CHIPS)
        self.slot = np.full(CHIPS * CHIPS, -1, dtype=np.int64)  # -1: sync chip
        per_bit = CHIPS * CHIPS // 2 // PAYLOAD_BITS
        for bit in range(PAYLOAD_BITS):
            self.slot[order[bit * per_bit : (bit + 1) * per_bit]] = bit
        self.slot = self.slot.reshape(CHIPS, CHIPS)
        self.strength = strength
        sync = np.where(self.slot < 0, self.chips, 0.0).astype(np.float32)
        self._sync_fft = np.conj(np.fft.fft2(_upsample(sync, FOLD)))

    # -- writing --------------------------------------------------------------------------------

    def tile(self, payload: Payload) -> np.ndarray:
        signs = np.where(self.slot < 0, 1.0, 2.0 * payload.bits()[self.slot] - 1.0)
        return (self.chips * signs).astype(np.float32)

    def embed(self, rgb: np.ndarray, payload: Payload) -> np.ndarray:
        """``rgb``: H × W × 3 uint8. Returns the marked copy."""
        h, w = rgb.shape[:2]
        period = min(h, w) / TILES_PER_SIDE
        # the tile drawn at the picture's scale: nearest-neighbour chips, then a light blur
        # so the pattern has no hard edges for JPEG to ring on
        reps_y, reps_x = int(np.ceil(h / period)) + 1, int(np.ceil(w / period)) + 1
        grid = np.tile(self.tile(payload), (reps_y, reps_x))
        size = (round(grid.shape[1] * period / CHIPS), round(grid.shape[0] * period / CHIPS))
        pattern = cv2.resize(grid, size, interpolation=cv2.INTER_NEAREST)[:h, :w]
        pattern = cv2.GaussianBlur(pattern, (0, 0), max(0.5, period / CHIPS / 3))
        luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gain = self.strength * _texture_mask(luma)
        delta = (pattern * gain)[:, :, None]
        return np.clip(rgb.astype(np.float32) + delta, 0, 255).round().astype(np.uint8)

    # -- reading --------------------------------------------------------------------------------

    def detect(self, picture: np.ndarray) -> Detection:
        """``picture``: H × W × 3 RGB, or H × W luminance (the mark is in every channel)."""
        grey = picture if picture.ndim == 2 else cv2.cvtColor(picture, cv2.COLOR_RGB2GRAY)
        luma = grey.astype(np.float32)
        h, w = luma.shape
        if min(h, w) < 128:
            return Detection(False, 0.0, 0.0, None)
        # coarse: the measured period and the nominal ones; then fine steps around the best
        tried: dict[float, tuple[float, np.ndarray]] = {}
        for period in self._periods(luma):
            tried[period] = self._try(luma, period)
        coarse = max(tried, key=lambda p: tried[p][0])
        for step in (-0.012, -0.008, -0.004, 0.004, 0.008, 0.012):
            period = coarse * (1 + step)
            tried[period] = self._try(luma, period)
        best = max(tried.values(), key=lambda t: t[0])
        score, bits = best
        found = score >= SYNC_THRESHOLD
        payload = Payload.from_bits(bits) if found and bits is not None else None
        confidence = float(1.0 / (1.0 + np.exp(-(score - SYNC_THRESHOLD) * 1.5)))
        return Detection(found, round(score, 2), round(confidence, 3), payload)

    def _try(self, luma: np.ndarray, period: float) -> tuple[float, np.ndarray]:
        """The detection score and the bits read if the tile's period is ``period``."""
        h, w = luma.shape
        scale = FOLD / period
        resized = cv2.resize(
            luma, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        folded = _fold(_residual(resized), FOLD)
        corr = np.real(np.fft.ifft2(np.fft.fft2(folded) * self._sync_fft))
        z = (float(corr.max()) - float(corr.mean())) / (float(corr.std()) + 1e-9)
        dy, dx = np.unravel_index(int(corr.argmax()), corr.shape)
        return z, self._bits_at(folded, (int(dy), int(dx)))

    def _periods(self, luma: np.ndarray) -> list[float]:
        """The tile period in pixels: from the residual's autocorrelation, and, around it,
        the periods a picture cropped by up to 20 % of its shorter side would have."""
        h, w = luma.shape
        nominal = min(h, w) / TILES_PER_SIDE
        candidates = [nominal / f for f in (1.0, 0.95, 0.9, 0.85, 0.8)]
        measured = _autocorr_period(_residual(luma), nominal * 0.95, nominal / 0.75)
        if measured is not None:
            candidates.insert(0, measured)
        return candidates

    def _bits_at(self, folded: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
        dy, dx = shift
        aligned = np.roll(folded, (-dy, -dx), axis=(0, 1))
        chip = aligned.reshape(CHIPS, FOLD // CHIPS, CHIPS, FOLD // CHIPS).sum(axis=(1, 3))
        votes = np.zeros(PAYLOAD_BITS)
        for bit in range(PAYLOAD_BITS):
            mask = self.slot == bit
            votes[bit] = float((chip[mask] * self.chips[mask]).sum())
        return (votes > 0).astype(np.int8)


def _upsample(tile: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(tile, (size, size), interpolation=cv2.INTER_NEAREST)


def _texture_mask(luma: np.ndarray) -> np.ndarray:
    """0.2 in flat regions (where a faint mottle would show in a smooth sky) up to 1.8 in
    textured ones (hair, fabric, foliage), from the local standard deviation."""
    small = cv2.resize(luma, (max(1, luma.shape[1] // 4), max(1, luma.shape[0] // 4)))
    mean = cv2.blur(small, (5, 5))
    std = np.sqrt(np.maximum(cv2.blur(small * small, (5, 5)) - mean * mean, 0))
    mask = np.clip(0.2 + std / 10.0, 0.2, 1.8)
    return cv2.resize(mask, (luma.shape[1], luma.shape[0]), interpolation=cv2.INTER_LINEAR)


def _residual(luma: np.ndarray) -> np.ndarray:
    """The picture less its smooth content: where the mark lives, with edges tamed."""
    res = luma - cv2.GaussianBlur(luma, (0, 0), 3.0)
    return np.clip(res, -8, 8)


def _fold(res: np.ndarray, size: int) -> np.ndarray:
    h, w = (res.shape[0] // size) * size, (res.shape[1] // size) * size
    if h == 0 or w == 0:
        return np.zeros((size, size), np.float32)
    return res[:h, :w].reshape(h // size, size, w // size, size).sum(axis=(0, 2))


def _autocorr_period(res: np.ndarray, lo: float, hi: float) -> float | None:
    spectrum = np.abs(np.fft.rfft2(res - res.mean())) ** 2
    auto = np.fft.irfft2(spectrum, s=res.shape)
    line = auto[0, :] + auto[:, 0][: auto.shape[1]] if auto.shape[0] >= auto.shape[1] else None
    if line is None:
        line = auto[0, : auto.shape[0]] + auto[:, 0]
    a, b = int(np.floor(lo)), int(np.ceil(hi))
    if b + 1 >= len(line) or a < 2:
        return None
    window = line[a : b + 1]
    i = int(window.argmax())
    if i in (0, len(window) - 1):
        return None
    y0, y1, y2 = window[i - 1], window[i], window[i + 1]
    offset = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) if (y0 - 2 * y1 + y2) != 0 else 0.0
    return a + i + float(offset)
