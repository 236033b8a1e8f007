"""Every user-facing string has a Simplified Chinese translation."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "_l": None, "N_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2),
            "lazy_ngettext": (1, 2), "pgettext": ((1, "c"), 2), "_lp": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("app/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]


def _source_messages() -> dict[tuple[str | None, str], str]:
    """(context, msgid) → the first file using it."""
    found: dict[tuple[str | None, str], str] = {}
    for filename, _lineno, message, _comments, context in extract_from_dir(
        str(ROOT), method_map=METHODS, keywords=KEYWORDS, options_map={"templates/**.html": {}, "templates/**.txt": {}}
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault((context, msgid), filename)
    return found


def test_every_string_has_a_chinese_translation():
    catalog = read_po((ROOT / "translations/zh/LC_MESSAGES/messages.po").open("rb"))
    missing = []
    messages = sorted(_source_messages().items(), key=lambda item: (item[0][1], item[0][0] or ""))
    for (context, msgid), filename in messages:
        entry = catalog.get(msgid, context=context)
        translated = entry is not None and not entry.fuzzy and (
            all(entry.string) if isinstance(entry.string, tuple) else bool(entry.string)
        )
        if not translated:
            missing.append(f"{filename}: {msgid!r}")
    assert not missing, f"{len(missing)} strings without a Chinese translation:\n" + "\n".join(missing[:60])
