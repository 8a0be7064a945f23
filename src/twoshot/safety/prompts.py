"""The prompt policy: terms and phrases a prompt may not contain, found through the usual
disguises (case, accents, look-alike letters, small capitals and flag letters, characters
that render as nothing, plurals, letters spaced, dotted or slashed out, a letter starred out,
leetspeak).

The rules are text (``prompt_policy.txt`` beside this module; its header documents the
syntax), so an operator extends or replaces them with a file of their own
(``TWOSHOT_PROMPT_POLICY``) without code. A refusal is logged by its rule id, never with
the prompt.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from twoshot.errors import InvalidInput

log = logging.getLogger(__name__)

CODE = "prompt_refused"

# what each letter may be written as (leetspeak); an interior letter may also be a "*"
_LEET = {
    "a": "a4@",
    "b": "b8",
    "e": "e3",
    "g": "g9",
    "i": "i1!|",
    "l": "l1|",
    "o": "o0",
    "s": "s5$",
    "t": "t7+",
    "z": "z2",
}
_SEP = r"[\s._\-*~'`\"/,+·•–—]{0,3}"  # between letters: "s e x", "s.e.x", "s/e/x"
_GAP = r"[^a-z0-9]*"  # between the words of a phrase: anything but a letter, or nothing
_START = r"(?<![a-z0-9'’])"  # not after an apostrophe either: "Anna's ex" is not "sex"
_END = r"(?![a-z0-9])"
# letters from other scripts that look like Latin ones (Cyrillic, Greek)
# and small capitals and regional indicators (🇳🇺🇩🇪), which NFKD leaves as they are
_LOOKALIKES = str.maketrans(
    "асеорхуікмтвнзѕјһԁαεικνορτυχ"
    + "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ"
    + "".join(map(chr, range(0x1F1E6, 0x1F200))),
    "aceopxyikmtbh3sjhdaeiknoptux" + "abcdefghijklmnopqrstuvwyz" + "abcdefghijklmnopqrstuvwxyz",
)
# blank letters (Hangul fillers): invisible, yet letters to Unicode, so removed by name
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u115f\u1160\u3164\uffa0"))
# what renders as nothing between two letters: every format character (bidi controls, tags,
# U+180E…) and every mark, even those of combining class 0 (U+034F, variation selectors)
_UNSEEN = ("Cf", "Mn", "Me")


def normalise(text: str) -> str:
    """Lower case, no accents, no invisible characters, look-alike letters made Latin."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    plain = "".join(c for c in decomposed if unicodedata.category(c) not in _UNSEEN)
    return plain.casefold().translate(_LOOKALIKES)


def _letter(c: str, interior: bool) -> str:
    chars = _LEET.get(c, c) + ("*" if interior else "")
    return "[" + re.escape(chars) + "]" if len(chars) > 1 else re.escape(c)


def _word(word: str, *, last: bool, prefix: bool) -> str:
    """A word's pattern: its letters, each maybe disguised, maybe spaced out; the last word
    of a term also in its plural."""
    stem, tail = word, ""
    if last and not prefix:
        if word.endswith("y") and len(word) > 2:
            stem, tail = word[:-1], "(?:y|ies)"
        else:
            tail = "(?:e?[s5$])?"
    parts = [_letter(c, 0 < i < len(word) - 1) for i, c in enumerate(stem)]
    return _SEP.join(parts) + tail


def term_pattern(term: str) -> str:
    """``sex``, ``blow job``, ``porn*``: the regular expression for one term."""
    prefix = term.endswith("*")
    words = term.rstrip("*").split()
    if not words:
        raise ValueError("empty term")
    body = _GAP.join(_word(w, last=i == len(words) - 1, prefix=prefix) for i, w in enumerate(words))
    return _START + body + ("" if prefix else _END)


@dataclass(frozen=True)
class Rule:
    id: str  # "<source>:<line>", what the logs and the error name
    patterns: tuple[re.Pattern[str], ...]  # every one must be found in the prompt

    def matches(self, text: str) -> bool:
        return all(p.search(text) for p in self.patterns)


def _parse_rule(line: str) -> tuple[re.Pattern[str], ...]:
    if line.startswith("re:"):
        return (re.compile(line[3:].strip()),)
    sides = [s.strip() for s in line.split(" & ")]
    return tuple(
        re.compile("|".join(term_pattern(t.strip()) for t in side.split("|") if t.strip()))
        for side in sides
    )


class PromptPolicy:
    def __init__(self, rules: list[Rule], allowed: list[re.Pattern[str]], sources: list[str]):
        self.rules = rules
        self.allowed = allowed
        self.sources = sources

    @classmethod
    def load(cls, path: Path | None = None) -> PromptPolicy:
        """The default rules, extended by (or, if it says ``replace``, replaced by) the
        operator's file at ``path``. A rule that does not parse stops the start."""
        default = resources.files("twoshot.safety").joinpath("prompt_policy.txt").read_text()
        texts = [("default", default)]
        if path is not None:
            custom = Path(path).read_text(encoding="utf-8")
            lines = [ln.strip() for ln in custom.splitlines()]
            if "replace" in lines:
                texts = []
            texts.append((str(path), custom))
        rules: list[Rule] = []
        allowed: list[re.Pattern[str]] = []
        for source, text in texts:
            name = "default" if source == "default" else "custom"
            for n, raw in enumerate(text.splitlines(), start=1):
                line = raw.strip()
                line = line if line.startswith("re:") else normalise(line)
                if not line or line.startswith("#") or line == "replace":
                    continue
                try:
                    if line.startswith("allow:"):
                        allowed.append(re.compile(term_pattern(line[6:].strip())))
                    else:
                        rules.append(Rule(f"{name}:{n}", _parse_rule(line)))
                except (re.error, ValueError) as exc:
                    raise ValueError(f"{source}, line {n}: not a rule ({exc})") from None
        return cls(rules, allowed, [s for s, _ in texts])

    def violation(self, prompt: str) -> str | None:
        """The id of the first rule the prompt breaks, or ``None``."""
        text = normalise(prompt)
        for allow in self.allowed:
            text = allow.sub(" ", text)
        for rule in self.rules:
            if rule.matches(text):
                return rule.id
        return None

    def check(self, prompt: str, field: str) -> None:
        """400 ``prompt_refused`` naming ``field`` if the prompt breaks a rule."""
        rule = self.violation(prompt) if prompt else None
        if rule is None:
            return
        log.info("%s refused: %s (rule %s)", field, CODE, rule)
        raise InvalidInput(
            f"{field}: this server does not make sexual content, nudity or pictures that "
            f"sexualise minors, and the prompt asks for it (rule {rule}); rephrase it",
            code=CODE,
            field=field,
        )

    def describe(self) -> dict[str, object]:
        return {"rules": len(self.rules), "allowed_phrases": len(self.allowed)}
