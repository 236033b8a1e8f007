"""Students in classes, and their families: guardians (some with several children, a few across
schools), the links between them, enrolments, and portal accounts for some parents."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bench.datagen import Dataset, split_evenly
from bench.datagen.classes import Classes
from bench.datagen.names import RELATIONSHIPS, full_name, mobile, person
from bench.datagen.people import People
from bench.settings import BENCH_DOMAIN

STUDENT_COLUMNS = ("id", "school_id", "student_number", "family_name", "given_name", "born_on", "is_active",
                   "created_at")
GUARDIAN_COLUMNS = ("id", "full_name", "email", "phone", "preferred_channel", "locale", "user_id", "created_at")
LINK_COLUMNS = ("id", "student_id", "guardian_id", "relationship")
ENROLMENT_COLUMNS = ("id", "student_id", "class_id", "starts_on", "ends_on")
FAMILY_SIZES = (1,) * 86 + (2,) * 12 + (3,) * 2  # children per family
CROSS_SCHOOL_SHARE = 0.04  # students whose siblings may be at another school
EMAIL_SHARE = 0.7


@dataclass
class Child:
    id: int
    school_id: int
    family_name: str


def _students(ds: Dataset, classes: Classes) -> list[Child]:
    rng = ds.rng("students")
    numbers: dict[int, int] = {}
    children = []
    for cls, count in zip(classes.classes, split_evenly(ds.scale.students, len(classes.classes)), strict=True):
        for _ in range(count):
            family, given, _english = person(rng, english_share=0.03)
            numbers[cls.school_id] = numbers.get(cls.school_id, 0) + 1
            sid = ds.next_id("students")
            born = date(ds.year_start.year - cls.grade - 6, 9, 1) + timedelta(days=rng.randint(0, 364))
            ds.add("students", (sid, cls.school_id, f"{ds.year_start.year}{numbers[cls.school_id]:06d}", family,
                                given, born, True, ds.created_at))
            ds.add("enrollments", (ds.next_id("enrollments"), sid, cls.id, ds.year_start, None))
            children.append(Child(sid, cls.school_id, family))
    return children


def _families(ds: Dataset, children: list[Child]) -> list[list[Child]]:
    """Siblings mostly at the same school; a few families span two schools."""
    rng = ds.rng("families")
    by_school: dict[int, list[Child]] = {}
    for child in children:
        by_school.setdefault(child.school_id, []).append(child)
    main: list[Child] = []
    for school_id in sorted(by_school):
        pupils = by_school[school_id]
        rng.shuffle(pupils)
        main.extend(pupils)
    cross_ids = set(rng.sample(range(len(main)), int(len(main) * CROSS_SCHOOL_SHARE)))
    cross = [c for i, c in enumerate(main) if i in cross_ids]
    main = [c for i, c in enumerate(main) if i not in cross_ids]
    rng.shuffle(cross)
    families = []
    while main:
        family = [main.pop()]
        for _ in range(rng.choice(FAMILY_SIZES) - 1):
            pool = cross if cross and rng.random() < 0.3 else main
            if pool:
                family.append(pool.pop())
        families.append(family)
    families.extend([c] for c in cross)
    return families


def _guardian(ds: Dataset, rng, family_name: str, relationship: str, account: bool) -> int:
    gid = ds.next_id("guardians")
    surname = family_name if relationship in ("father", "grandfather") else person(rng)[0]
    english = rng.random() < 0.05
    name = full_name(surname, person(rng)[1], False) if not english else full_name(*person(rng, 1.0))
    email = f"g{gid:06d}@parents.{BENCH_DOMAIN}" if rng.random() < EMAIL_SHARE else None
    channel = "sms" if email is None or rng.random() < 0.5 else "email"
    locale = "en" if english else "zh"
    user_id = None
    if account and email:
        user_id = ds.next_id("users")
        at = ds.created_at
        ds.add("users", (user_id, email, name, mobile(1_000_000 + gid), ds.password_hash, "parent", locale, True, 1,
                         None, None, None, at, at, None))
    ds.add("guardians", (gid, name, email, mobile(1_000_000 + gid), channel, locale, user_id, ds.created_at))
    return gid


def _relationships(rng, count: int) -> list[str]:
    first = rng.choice(("mother", "father"))
    if rng.random() < 0.05:
        first = rng.choice(RELATIONSHIPS[2:])
    second = "father" if first == "mother" else "mother"
    return [first, second][:count]


def build_families(ds: Dataset, people: People, classes: Classes) -> None:
    """Students (one enrolment each), exactly `scale.guardians` guardians, links and parent accounts."""
    for name, columns in (("students", STUDENT_COLUMNS), ("enrollments", ENROLMENT_COLUMNS),
                          ("guardians", GUARDIAN_COLUMNS), ("student_guardians", LINK_COLUMNS)):
        ds.table(name, columns)
    families = _families(ds, _students(ds, classes))
    rng = ds.rng("guardians")
    two = set(rng.sample(range(len(families)), max(0, min(len(families), ds.scale.guardians - len(families)))))
    account_chance = ds.scale.parent_account_share / EMAIL_SHARE
    for index, family in enumerate(families):
        schools = sorted({c.school_id for c in family})
        for relationship in _relationships(rng, 2 if index in two else 1):
            gid = _guardian(ds, rng, family[0].family_name, relationship, rng.random() < account_chance)
            user_id = ds.tables["guardians"].rows[-1][6]
            if user_id:
                for school_id in schools:
                    ds.add("user_scopes", (ds.next_id("user_scopes"), user_id, school_id))
            for child in family:
                ds.add("student_guardians", (ds.next_id("student_guardians"), child.id, gid, relationship))
