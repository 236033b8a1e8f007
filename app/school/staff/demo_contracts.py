"""Demo contracts: templates in English and Chinese, an active labour contract for every demo staff member with
an account (some also confidentiality and non-compete agreements), and one contract waiting for a signature.

Runs after the staff demo step. Idempotent: templates are matched by owner and name, contracts by party and
kind. The signatures of the demo contracts are written by the loader itself (IP 127.0.0.1, user agent
"demo loader") with times before each contract started; the waiting contract is issued through the service,
so its party finds it in their inbox and can sign it in the browser.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.general.audit.services import SYSTEM, record
from app.general.auth.models import Role, User
from app.general.contracts import rendering, services
from app.general.contracts.models import Contract, ContractStatus, ContractTemplate, Signature, SignerRole
from app.general.contracts.services.common import admins_of
from app.general.contracts.services.obligations import add_months, create_obligations_on_activation
from app.general.org.models import OrgUnit
from app.school.staff.models import StaffMember
from app.school.staff.parties import PARTY_TYPE

log = logging.getLogger(__name__)

DEMO_IP, DEMO_AGENT = "127.0.0.1", "demo loader"
TERM_MONTHS = 36
WAITING_FOR = "teacher03"  # this teacher finds a contract to sign
NEAR_END_INDEX = 7  # this staff member's labour contract ends in 45 days (the expiry reminders have work)
NON_COMPETE = {"non_compete_months": 12, "non_compete_monthly_compensation": "3000.00", "currency": "CNY"}

LABOUR_EN = """{{ title }}

Employer: {{ employer_name }}
Employee: {{ party_name }} ({{ party_email }})

1. Term. This contract starts on {{ starts_on }}{% if ends_on %} and ends on {{ ends_on }}{% else %} and has no \
fixed end date{% endif %}.{% if probation_ends_on %} The probation period ends on {{ probation_ends_on }}.{% endif %}
2. Position. The Employee is employed as a teacher and teaches the classes and subjects the school assigns, within \
the weekly periods of the timetable.
3. Working time and pay. Working time, pay and allowances follow the school's pay scheme in force; pay is \
transferred monthly to the Employee's bank account.
4. Notice. Either party may end this contract with {{ notice_days }} days' written notice{% if probation_ends_on %} \
(3 days during probation){% endif %}, as the Labour Contract Law of the People's Republic of China provides.
5. Handover. Before leaving, the Employee hands over teaching materials, grade books, exam papers, student files, \
keys, equipment and accounts, as the school's departure checklist lists.
6. Personal data. The school processes the Employee's personal data only to carry out this contract.
7. Law. This contract is governed by the Labour Contract Law of the People's Republic of China.

Issued on {{ issued_on }}.
"""

LABOUR_ZH = """{{ title }}

甲方（用人单位）：{{ employer_name }}
乙方（劳动者）：{{ party_name }}（{{ party_email }}）

第一条 合同期限：本合同自{{ starts_on }}起{% if ends_on %}至{{ ends_on }}止\
{% else %}，为无固定期限劳动合同{% endif %}。\
{% if probation_ends_on %}试用期至{{ probation_ends_on }}止。{% endif %}
第二条 工作内容：乙方担任教师，承担学校安排的班级与学科教学工作，周课时以课表为准。
第三条 工作时间和劳动报酬：按学校现行薪酬方案执行，工资按月以银行转账方式支付。
第四条 解除合同：任何一方解除本合同，应提前{{ notice_days }}日以书面形式通知对方\
{% if probation_ends_on %}（试用期内提前三日）{% endif %}，依照《中华人民共和国劳动合同法》办理。
第五条 工作交接：乙方离职前应按学校离职清单办理工作交接，归还教学资料、成绩册、试卷、学生档案、钥匙、设备及账号。
第六条 个人信息：甲方仅为履行本合同之目的处理乙方的个人信息。
第七条 本合同适用《中华人民共和国劳动合同法》。

签发日期：{{ issued_on }}
"""

CONFIDENTIALITY_EN = """{{ title }}

Between {{ employer_name }} (the School) and {{ party_name }} (the Teacher).

1. The Teacher keeps secret what they learn about students, their families, examinations and the School's \
affairs, and uses it only for their work.
2. Examination papers are confidential until the examination has been held.
3. Personal data of students and guardians is never copied to private devices or shared outside the School.
4. This duty begins on {{ starts_on }} and continues without end after the employment ends.

Issued on {{ issued_on }}.
"""

CONFIDENTIALITY_ZH = """{{ title }}

甲方：{{ employer_name }}
乙方：{{ party_name }}

第一条 乙方对工作中知悉的学生及其家庭信息、考试信息和学校事务负有保密义务，仅可用于工作目的。
第二条 考试试卷在考试结束前属于保密材料。
第三条 不得将学生及监护人的个人信息复制到私人设备或向校外提供。
第四条 保密义务自{{ starts_on }}起生效，劳动关系结束后继续有效，无期限限制。

签发日期：{{ issued_on }}
"""

NON_COMPETE_EN = """{{ title }}

Between {{ employer_name }} (the School) and {{ party_name }} (the Teacher).

1. For {{ non_compete_months }} months after the employment ends{% if ends_on %} (on {{ ends_on }} unless it \
ends earlier){% endif %}, the Teacher does not teach at a private tutoring business that competes with the School \
in the same district.
2. For each of these months the School pays the Teacher {{ non_compete_monthly_compensation }} {{ currency }} as \
compensation, at the end of the month.
3. The restriction lasts at most two years (Labour Contract Law of the PRC, art. 24).

Issued on {{ issued_on }}.
"""

NON_COMPETE_ZH = """{{ title }}

甲方：{{ employer_name }}
乙方：{{ party_name }}

第一条 劳动关系结束后{{ non_compete_months }}个月内{% if ends_on %}\
（劳动合同于{{ ends_on }}终止，提前解除的以实际离职日为准）{% endif %}\
，乙方不得在本区与甲方有竞争关系的校外培训机构任教。
第二条 竞业限制期间，甲方于每月末向乙方支付竞业限制经济补偿{{ non_compete_monthly_compensation }}{{ currency }}。
第三条 竞业限制期限不超过二年（《中华人民共和国劳动合同法》第二十四条）。

签发日期：{{ issued_on }}
"""


@dataclass(frozen=True)
class DemoTemplate:
    kind: str
    locale: str
    name: str
    body: str


TEMPLATES = (
    DemoTemplate("labour", "en", "Teacher employment contract", LABOUR_EN),
    DemoTemplate("labour", "zh", "教师劳动合同", LABOUR_ZH),
    DemoTemplate("confidentiality", "en", "Confidentiality agreement", CONFIDENTIALITY_EN),
    DemoTemplate("confidentiality", "zh", "保密协议", CONFIDENTIALITY_ZH),
    DemoTemplate("non_compete", "en", "Non-compete agreement", NON_COMPETE_EN),
    DemoTemplate("non_compete", "zh", "竞业限制协议", NON_COMPETE_ZH),
)


def load_templates(owner: OrgUnit, result) -> dict[tuple[str, str], ContractTemplate]:
    """The demo templates by (kind, locale), owned by the district, created when missing."""
    found: dict[tuple[str, str], ContractTemplate] = {}
    for spec in TEMPLATES:
        template = db.session.scalar(
            sa.select(ContractTemplate)
            .where(ContractTemplate.org_unit_id == owner.id, ContractTemplate.name == spec.name)
            .order_by(ContractTemplate.version.desc()).limit(1)
        )
        if template is None:
            template = services.create_template(actor=SYSTEM, org_unit=owner, kind=spec.kind, name=spec.name,
                                                locale=spec.locale, body=spec.body)
            result.add("contract templates")
        found[(spec.kind, spec.locale)] = template
    return found


def current_term(hired_on: date, today: date) -> tuple[date, date]:
    """The three-year fixed term (renewed since hiring) that covers today."""
    start = hired_on
    while add_months(start, TERM_MONTHS) <= today:
        start = add_months(start, TERM_MONTHS)
    return start, add_months(start, TERM_MONTHS) - timedelta(days=1)


def _at(day: date, hour: int, minute: int) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def _school_signer(school: OrgUnit) -> User | None:
    """The school's head, else an administrator over it."""
    return next(iter(admins_of(school, (Role.HEAD,))), None) or next(iter(admins_of(school, (Role.ADMIN,))), None)


def _signature(contract: Contract, role: str, user: User, at: datetime, otp: bool) -> Signature:
    return Signature(contract=contract, signer_role=role, signer_user_id=user.id, signer_name=user.display_name,
                     signer_email=user.email, signed_at=at, ip=DEMO_IP, user_agent=DEMO_AGENT,
                     text_sha256=contract.rendered_sha256, template_version=contract.template_version,
                     otp_confirmed_at=at - timedelta(seconds=40) if otp else None)


def _draft(member: StaffMember, template: ContractTemplate, starts_on: date, ends_on: date | None,
           terms: dict) -> Contract:
    return services.create_contract(
        actor=SYSTEM, template=template, employer=member.school, party_type=PARTY_TYPE, party_id=member.id,
        party_name=member.full_name, party_email=member.email or member.user.email, party_user=member.user,
        title=template.name, starts_on=starts_on, ends_on=ends_on, terms=terms,
    )


def _make_active(member: StaffMember, template: ContractTemplate, starts_on: date, ends_on: date | None,
                 terms: dict) -> Contract:
    """A contract as it would be after the party signed and the school countersigned, before it started."""
    school_signer = _school_signer(member.school)
    contract = _draft(member, template, starts_on, ends_on, terms)
    issued_on = starts_on - timedelta(days=21)
    text = services.render_contract(contract, issued_on=issued_on)
    contract.rendered_text, contract.rendered_sha256 = text, rendering.sha256_text(text)
    contract.status, contract.issued_at = ContractStatus.ISSUED, _at(issued_on, 9, 30)
    db.session.flush()
    party_at = _at(starts_on - timedelta(days=18), 19, 42)
    db.session.add(_signature(contract, SignerRole.PARTY, member.user, party_at, otp=True))
    contract.status, contract.signed_at = ContractStatus.SIGNED, party_at
    if school_signer is not None:
        school_at = _at(starts_on - timedelta(days=17), 10, 5)
        db.session.add(_signature(contract, SignerRole.SCHOOL, school_signer, school_at, otp=False))
        contract.status, contract.activated_at = ContractStatus.ACTIVE, school_at
    db.session.flush()
    if contract.status == ContractStatus.ACTIVE:
        create_obligations_on_activation(contract, actor=SYSTEM)
    record("contracts.demo_signed", subject=contract, subject_type="Contract", actor=SYSTEM,
           changes={"status": contract.status, "sha256": contract.rendered_sha256, "ip": DEMO_IP,
                    "user_agent": DEMO_AGENT})
    return contract


def _has(member: StaffMember, kind: str) -> bool:
    stmt = sa.select(Contract.id).where(Contract.party_type == PARTY_TYPE, Contract.party_id == member.id,
                                        Contract.kind == kind)
    return db.session.scalar(stmt.limit(1)) is not None


def _contracts_for(index: int, member: StaffMember, templates, today: date) -> int:
    locale = member.user.locale if member.user.locale in ("en", "zh") else "zh"
    starts_on, ends_on = current_term(member.hired_on, today)
    if index == NEAR_END_INDEX:
        ends_on = today + timedelta(days=45)
        starts_on = min(starts_on, add_months(ends_on, -TERM_MONTHS) + timedelta(days=1))
    probation = member.probation_ends_on
    if probation is not None and not starts_on <= probation <= ends_on:
        probation = None
    created = 0
    plans = [("labour", starts_on, ends_on, {"notice_days": 30, "probation_ends_on": probation})]
    if index % 3 == 1:
        plans.append(("confidentiality", starts_on, None, {}))
    if index % 4 == 2:
        plans.append(("non_compete", starts_on, ends_on, dict(NON_COMPETE)))
    for kind, start, end, terms in plans:
        if not _has(member, kind):
            _make_active(member, templates[(kind, locale)], start, end, terms)
            created += 1
    return created


def _waiting(member: StaffMember, templates, today: date) -> int:
    """A confidentiality agreement issued to `member` for them to sign in the browser."""
    if _has(member, "confidentiality"):
        return 0
    locale = member.user.locale if member.user.locale in ("en", "zh") else "zh"
    contract = _draft(member, templates[("confidentiality", locale)], today, None, {})
    services.issue_contract(contract, actor=SYSTEM)
    return 1


def load(units: dict[str, OrgUnit], users: dict[str, User], result) -> None:
    """Demo step: templates, then the contracts of every demo staff member with a portal account."""
    stmt = sa.select(StaffMember).where(StaffMember.user_id.is_not(None)).order_by(StaffMember.id)
    members = [m for m in db.session.scalars(stmt) if m.user is not None and m.user.is_active]
    if not members:
        return
    templates = load_templates(units["RIVERSIDE"], result)
    today = services.local_today()
    created = 0
    waiting = next((m for m in members if m.user.email.startswith(WAITING_FOR + "@")), members[0])
    for index, member in enumerate(members):
        created += _contracts_for(index, member, templates, today)
    created += _waiting(waiting, templates, today)
    result.add("contracts", created)
    log.info("demo: %d contracts created", created)
