"""People's names: Chinese names are written family name first, others given name first."""
from __future__ import annotations


def is_cjk(text: str) -> bool:
    """True when the text holds a CJK ideograph."""
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def full_name(family_name: str, given_name: str) -> str:
    """王芳 for Chinese names, "Emily Johnson" otherwise."""
    if is_cjk(family_name + given_name):
        return f"{family_name}{given_name}"
    return f"{given_name} {family_name}".strip()
