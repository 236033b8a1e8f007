"""Names and contact details: mostly Chinese, some English, all made up."""
from __future__ import annotations

import random

FAMILY_NAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉宇浩然欣怡子涵梓萱一诺雨轩思远"
EN_GIVEN = ("Emily", "James", "Olivia", "Daniel", "Sophia", "Michael", "Grace", "David", "Laura", "Thomas",
            "Anna", "Henry", "Chloe", "Samuel", "Lucy", "Peter")
EN_FAMILY = ("Smith", "Johnson", "Brown", "Miller", "Wilson", "Taylor", "Green", "Clark", "Walker", "O'Hara",
             "Young", "King", "Wright", "Hughes", "Evans", "Baker")
RELATIONSHIPS = ("mother", "father", "grandmother", "grandfather", "guardian")


def person(rng: random.Random, english_share: float = 0.08) -> tuple[str, str, bool]:
    """(family name, given name, is_english)."""
    if rng.random() < english_share:
        return rng.choice(EN_FAMILY), rng.choice(EN_GIVEN), True
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(FAMILY_NAMES), given, False


def full_name(family: str, given: str, english: bool) -> str:
    return f"{given} {family}" if english else f"{family}{given}"


def mobile(n: int) -> str:
    """A unique, obviously fake mainland mobile number for sequence number `n`."""
    return f"+86 199{n:08d}"
