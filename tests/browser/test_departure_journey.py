"""Issue 6's journey in real Chromium, from resignation to closed. The teacher opens "My departure", reads the notice
rule, is refused a last day earlier than it allows and hands in the resignation; the head approves it (approving
needs a fresh login: the re-authentication page asks for the password and code, then the head presses Approve again);
the admin starts the handover, the teacher ticks their own item and the admin the rest (the money item with its
amount); the school lets the teacher go today instead of at the end of the notice (a departure is settled on its last
working day or later, so this is how a one-day journey can reach settlement): moving the last day before the earliest
one is refused without a waiver reason and recorded with it; the admin picks a ranked colleague for each class, sees
the loads, rewords and previews the parents' notice and confirms; the deliveries go from pending to sent; the admin
marks the parents notified; a parent reads the one notice naming both their children (class, subject or homeroom, old
→ new teacher, first day; never the private reason) and acknowledges it; the admin ends the teacher's access early
with a reason and the teacher's open browser is logged out on its next page; the admin settles (final pay, money
items, contract ended) and closes; the case page's timeline shows each step.

The school (term, timetable, lessons, pay scheme, labour contract), its people and the journey's own admin, head,
teacher and parent are set up here on the live server's database, so the journey depends on nothing the demo
loads. Two things a person cannot do from a browser are done in-process: the live server has no worker (the test
configuration does not enqueue on commit), so the case's outbox rows are delivered by the outbox's own task
function (`app.general.notifications.tasks.dispatch`, once per pending row, into the memory backends) exactly as
the worker would; and the head's login is made stale for the Approve press by setting FRESH_LOGIN_WINDOW to zero
(restored before the password is re-entered), so the re-authentication page is really gone through.
"""
from __future__ import annotations

import os
import time
from datetime import date, timedelta
from decimal import Decimal

import pyotp
import pytest
import sqlalchemy as sa
from babel.dates import format_date
from playwright.sync_api import expect

from app.extensions import db
from app.general.auth.models import User
from app.school.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

DOMAIN = "demo.staffroom.test"
PEOPLE = {  # local part: (role, unit code, locale)
    "dep-admin": ("admin", "RIVERSIDE", "en"),
    "dep-head": ("head", "DJ1", "en"),
    "dep-teacher": ("teacher", "DJ1", "en"),
    "dep-parent": ("parent", "DJ1", "en"),
}
SECRETS = {local: pyotp.random_base32() for local, (role, _unit, _locale) in PEOPLE.items()
           if role in ("admin", "head")}
SCHOOL = "Willow Journey School"
LEAVING = ("Harper", "Ruth")          # the departing maths teacher (dep-teacher)
FIRST = ("Okafor", "Ben")             # same department, first aid: the best candidate for everything
SECOND = ("Park", "Chloe")            # another maths teacher
CHILDREN = (("Grant", "Leo", "8(1)"), ("Grant", "Mia", "8(2)"))  # dep-parent's two children
PRIVATE_REASON = "Moving to Chengdu to look after my mother"
WORDING = "Ms Harper is leaving the school at the end of her notice. We thank her for her work with the class."
EVIDENCE = "Returned to the office, signed for"
MONEY = "150.00"  # the school owes the teacher for a training course she paid herself
WAIVER = "Released early by agreement: her replacement is ready"
EARLY_END = "Garden leave agreed with the head"
SHOTS = os.environ.get("DEPARTURE_SCREENSHOTS")  # a folder: save screenshots there (for looking at the pages)


def _shot(page, name: str) -> None:
    """Desktop and phone screenshots of the current page, when DEPARTURE_SCREENSHOTS names a folder."""
    if not SHOTS:
        return
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=os.path.join(SHOTS, f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def _academic_year(today: date) -> str:
    first = today.year if today.month >= 8 else today.year - 1  # academic years run from 1 August
    return f"{first}-{first + 1}"


def _accounts() -> dict[str, User]:
    """The journey's own admin (district), head, teacher and parent (school DJ1), with their one-time secrets."""
    from app.core.models import utcnow
    from app.general.auth.models import UserScope
    from app.general.auth.passwords import hash_password
    from app.general.org.models import OrgUnit

    users = {}
    for local, (role, code, locale) in PEOPLE.items():
        unit = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == code))
        user = User(email=f"{local}@{DOMAIN}", display_name=local, role=role, locale=locale,
                    password_hash=hash_password(DEMO_PASSWORD))
        if local in SECRETS:
            user.totp_secret, user.totp_enabled_at = SECRETS[local], utcnow()
        user.scopes.append(UserScope(org_unit=unit))
        db.session.add(user)
        users[local] = user
    return users


def _credentials(people, today: date) -> None:
    """Everyone holds the credentials the district requires (teaching, safeguarding, first aid for homerooms)."""
    from app.school.credentials.models import Credential, CredentialType

    for kind in db.session.scalars(sa.select(CredentialType).where(
            CredentialType.code.in_(["TEACH", "SAFE", "FIRSTAID"]))):
        for person in people:
            db.session.add(Credential(staff=person, type=kind, issued_on=today - timedelta(days=400), expires_on=None,
                                      number=f"{kind.code}-{person.employee_number}"))


def _families(school, classes: dict, parent_user: User, start: date) -> list:
    """dep-parent's two children (one per class) and four other students with a guardian each (e-mail or SMS,
    no account). Returns dep-parent's children."""
    from app.school.classes.models import Enrollment, Guardian, Student, StudentGuardian

    def student(family: str, given: str, class_name: str) -> Student:
        child = Student(school=school, student_number=f"DJ-S-{given}", family_name=family, given_name=given)
        db.session.add(child)
        db.session.add(Enrollment(student=child, school_class=classes[class_name], starts_on=start))
        return child

    children = [student(family, given, name) for family, given, name in CHILDREN]
    parent = Guardian(full_name="Nora Grant", email=f"dep-parent@{DOMAIN}", preferred_channel="email", locale="en",
                      user=parent_user)
    db.session.add(parent)
    for child in children:
        db.session.add(StudentGuardian(student=child, guardian=parent, relationship_kind="mother"))
    for family, given, name, channel, phone in (("Adams", "Tom", "8(1)", "email", None),
                                                ("Baker", "Ivy", "8(1)", "sms", "+8613800000101"),
                                                ("Cole", "Sam", "8(2)", "email", None),
                                                ("Diaz", "Eva", "8(2)", "sms", "+8613800000102")):
        guardian = Guardian(full_name=f"{given}'s guardian {family}", email=f"{family.lower()}@example.test",
                            phone=phone, preferred_channel=channel, locale="zh")
        db.session.add(guardian)
        db.session.add(StudentGuardian(student=student(family, given, name), guardian=guardian,
                                       relationship_kind="father"))
    return children


def _teaching(school, maths, leaving, classes: dict, start: date, today: date) -> None:
    """The term (from before today to well after the notice), Harper's timetable and its lessons, the pay scheme."""
    from app.general.audit.services import SYSTEM
    from app.school.teaching.models import PayRate, PayScheme, Term, TimetableSlot
    from app.school.teaching.services.ledger import generate_term

    term = Term(school=school, name="Journey term", starts_on=start, ends_on=today + timedelta(days=150))
    db.session.add(term)
    for weekday, period, name in ((1, 1, "8(1)"), (2, 2, "8(1)"), (3, 1, "8(2)"), (4, 2, "8(2)"), (5, 3, "8(1)"),
                                  (5, 4, "8(2)")):
        db.session.add(TimetableSlot(term=term, weekday=weekday, period=period, school_class=classes[name],
                                     subject=maths, staff=leaving))
    db.session.flush()
    generate_term(term, SYSTEM)
    scheme = PayScheme(school=school, name="Journey pay", effective_from=start, standard_monthly_periods=10,
                       overtime_rate=Decimal("30"), homeroom_allowance=Decimal("800"), point_value=Decimal("10"))
    scheme.rates = [PayRate(kind=kind, rate=Decimal(rate)) for kind, rate in (
        ("regular", "50"), ("cover", "60"), ("extra", "55"), ("open_class", "120"), ("invigilation", "30"),
        ("homeroom", "40"))]
    db.session.add(scheme)


def _labour_contract(school, leaving, user: User, today: date) -> None:
    """Harper's labour contract in force (open-ended, no own notice terms): settling ends it on her last day."""
    from app.core.models import utcnow
    from app.general.audit.services import SYSTEM
    from app.general.contracts import services as contract_services
    from app.general.contracts.models import Contract

    template = contract_services.create_template(actor=SYSTEM, org_unit=school, kind="labour",
                                                 name="Journey labour contract", locale="en",
                                                 body="The employee teaches as the school assigns.")
    db.session.add(Contract(template=template, template_version=template.version, kind="labour", employer=school,
                            party_type="StaffMember", party_id=leaving.id, party_user_id=user.id,
                            party_name=leaving.full_name, title="Labour contract",
                            starts_on=today - timedelta(days=3 * 365), ends_on=None, terms={}, status="active",
                            rendered_text="The contract.", rendered_sha256="0" * 64, activated_at=utcnow()))


def _set_up(live_app) -> dict:
    """School DJ1: Harper (dep-teacher, department Maths) teaches maths to 8(1) and 8(2) and is homeroom teacher of
    8(1), with a timetable, generated lessons, a pay scheme and a labour contract; Okafor (same department) and Park
    teach maths too; each class has students with guardians, and dep-parent is the guardian (with a portal account)
    of Leo in 8(1) and Mia in 8(2). Dates count from the schools' today."""
    from app.general.audit.services import SYSTEM
    from app.general.org.models import OrgUnit
    from app.general.org.services import create_unit
    from app.school.classes.models import Assignment, SchoolClass, Subject
    from app.school.staff.models import StaffMember
    from app.school.staff.queries import local_today

    with live_app.app_context():
        today = local_today()
        start = (today - timedelta(days=70)).replace(day=1)
        district = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "RIVERSIDE"))
        school = create_unit(kind="school", name=SCHOOL, code="DJ1", parent=district, actor=SYSTEM)
        department = create_unit(kind="department", name="Journey Maths Department", code="DJ1-MATH", parent=school,
                                 actor=SYSTEM)
        maths = Subject(code="DJMATH", name="Journey Maths")
        db.session.add(maths)
        users = _accounts()

        def staff(number, names, *, department=None, user=None):
            return StaffMember(school=school, department=department, employee_number=number, family_name=names[0],
                               given_name=names[1], hired_on=today - timedelta(days=3 * 365), user=user,
                               subjects=[maths], max_weekly_periods=20)

        leaving = staff("DJ-001", LEAVING, department=department, user=users["dep-teacher"])
        first = staff("DJ-002", FIRST, department=department)
        second = staff("DJ-003", SECOND)
        year = _academic_year(today)
        classes = {name: SchoolClass(school=school, academic_year=year, grade=8, name=name)
                   for name in ("8(1)", "8(2)")}
        db.session.add_all([leaving, first, second, *classes.values()])
        db.session.flush()
        _credentials((leaving, first, second), today)
        db.session.add_all([
            Assignment(school_class=classes["8(1)"], staff=leaving, role="subject", subject=maths, weekly_periods=4,
                       starts_on=start),
            Assignment(school_class=classes["8(2)"], staff=leaving, role="subject", subject=maths, weekly_periods=4,
                       starts_on=start),
            Assignment(school_class=classes["8(1)"], staff=leaving, role="homeroom", weekly_periods=1,
                       starts_on=start),
        ])
        children = _families(school, classes, users["dep-parent"], start)
        _teaching(school, maths, leaving, classes, start, today)
        _labour_contract(school, leaving, users["dep-teacher"], today)
        db.session.commit()
        ids = {"today": today, "leaving": leaving.id,
               "names": {"leaving": leaving.full_name, "first": first.full_name, "second": second.full_name},
               "children": [c.full_name for c in children]}
        db.session.remove()
        return ids


def _totp(live_app, local: str) -> str:
    """A code the login accepts: the current step, or the next one when the current one was used already."""
    with live_app.app_context():
        last = db.session.scalar(sa.select(User.totp_last_counter).where(User.email == f"{local}@{DOMAIN}"))
        db.session.remove()
    totp = pyotp.TOTP(SECRETS[local])
    counter = totp.timecode(time.time())
    return totp.generate_otp(counter if last is None or counter > last else last + 1)


def _submit(page, form: str = "main form") -> None:
    page.locator(form).locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()


def _log_in(page, base: str, live_app, local: str) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", f"{local}@{DOMAIN}")
    page.fill("input[name=password]", DEMO_PASSWORD)
    _submit(page)
    if local in SECRETS:
        assert "/auth/two-factor" in page.url
        page.fill("input[name=code]", _totp(live_app, local))
        _submit(page)
    assert page.url.rstrip("/") == base, page.url


def _main(page) -> str:
    return page.locator("main").inner_text()


def _full(day: date) -> str:
    return format_date(day, "full", locale="en")


def _medium(day: date) -> str:
    return format_date(day, "medium", locale="en")


def _new_page(browser, console_errors: list[str]):
    """A person's own browser (cookies of their own); its console errors fail the test like `page`'s."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    other = context.new_page()
    other.on("dialog", lambda dialog: dialog.accept())  # the data-confirm buttons
    other.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    other.on("pageerror", lambda exc: console_errors.append(str(exc)))
    return context, other


def _nav(page, entry: str) -> None:
    page.locator("nav").get_by_role("link", name=entry, exact=True).click()
    page.wait_for_load_state()


def _status(page) -> str:
    """The state badge in the case page's heading."""
    return page.locator("h1 [data-status]").get_attribute("data-status")


def _stored(live_app, case_id: int) -> dict:
    from app.general.auth.models import User
    from app.general.contracts.models import Contract
    from app.school.offboarding.models import DepartureCase

    with live_app.app_context():
        case = db.session.get(DepartureCase, case_id)
        contract = db.session.get(Contract, case.contract_id) if case.contract_id else None
        state = {"status": case.status, "final_pay": case.final_pay, "access_revoked_at": case.access_revoked_at,
                 "staff_status": case.staff.status, "contract": contract.status if contract else None,
                 "teacher_active": db.session.get(User, case.staff.user_id).is_active_account}
        db.session.remove()
    return state


def _dispatch(live_app, case_id: int) -> int:
    """Deliver the case's outbox rows as the worker would: the outbox's own task, once per pending row."""
    from app.general.notifications.models import Notification, Status
    from app.general.notifications.tasks import dispatch

    with live_app.app_context():
        pending = list(db.session.scalars(sa.select(Notification.id).where(
            Notification.idempotency_key.like(f"departure:{case_id}:guardian:%"),
            Notification.status == Status.PENDING).order_by(Notification.id)))
        results = [dispatch(notification_id) for notification_id in pending]
        db.session.remove()
    assert results and set(results) == {"sent"}, results
    return len(results)


def _choose(page, line: str, colleague: str) -> None:
    """Pick `colleague` from the ranked candidates of the plan line whose heading reads `line`."""
    card = page.locator("[data-testid=plan-line]").filter(has=page.locator(".card-header", has_text=line))
    card.get_by_test_id("candidate").filter(has_text=colleague).get_by_role("button", name="Choose").click()
    expect(page.locator("[data-testid=plan-line]").filter(has=page.locator(".card-header", has_text=line))
           .get_by_test_id("chosen")).to_contain_text(f"Chosen: {colleague}")


def test_a_resignation_from_the_portal_to_a_closed_case(browser, page, live_server, live_app, console_errors):
    ids = _set_up(live_app)
    base, today, names = live_server, ids["today"], ids["names"]
    leaving, first, second = names["leaving"], names["first"], names["second"]
    earliest = today + timedelta(days=30)  # 30 days' statutory notice from today
    effective = today + timedelta(days=1)  # the new teachers' first day, once the school lets her go today
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm buttons

    # --- the teacher: My departure → hand in the resignation; the page states the notice rule -----------------
    teacher, teacher_page = _new_page(browser, console_errors)
    _log_in(teacher_page, base, live_app, "dep-teacher")
    _nav(teacher_page, "My departure")
    expect(teacher_page.get_by_test_id("no-case")).to_contain_text("You have no departure under way")
    teacher_page.get_by_test_id("resign-link").click()
    rule = teacher_page.get_by_test_id("notice-rule")
    expect(rule).to_contain_text("30 days' written notice (Labour Contract Law art. 37)")
    expect(rule).to_contain_text(f"The earliest last working day is {_full(earliest)}.")
    assert teacher_page.input_value("input[name=last_working_day]") == earliest.isoformat()  # prefilled
    _shot(teacher_page, "resign")
    teacher_page.fill("input[name=last_working_day]", (earliest - timedelta(days=1)).isoformat())  # too early
    teacher_page.fill("textarea[name=private_reason]", PRIVATE_REASON)
    _submit(teacher_page, "[data-testid=resign-form]")
    expect(teacher_page.locator("main")).to_contain_text(f"the earliest last working day is {earliest.isoformat()}")
    refused = [error for error in console_errors if "422" in error]  # the refusal's status, provoked on purpose
    assert refused, console_errors
    for error in refused:
        console_errors.remove(error)
    teacher_page.fill("input[name=last_working_day]", earliest.isoformat())
    _submit(teacher_page, "[data-testid=resign-form]")
    expect(teacher_page.locator("main")).to_contain_text("Your resignation is handed in.")
    expect(teacher_page.get_by_test_id("last-working-day")).to_contain_text(_medium(earliest))
    expect(teacher_page.locator("h1 [data-status]")).to_have_text("submitted")
    _shot(teacher_page, "my-departure")
    with live_app.app_context():
        from app.school.offboarding.models import DepartureCase

        case_id = db.session.scalar(sa.select(DepartureCase.id).where(DepartureCase.staff_id == ids["leaving"]))
        db.session.remove()
    case_url = f"{base}/departures/{case_id}"

    # --- the head approves; approving asks for a fresh password (the re-authentication page) ------------------
    head, head_page = _new_page(browser, console_errors)
    _log_in(head_page, base, live_app, "dep-head")
    _nav(head_page, "Departures")
    head_page.get_by_test_id("cases").get_by_role("link", name=leaving).click()
    expect(head_page.get_by_test_id("next-step")).to_contain_text("A head approves or rejects the departure.")
    window = live_app.config["FRESH_LOGIN_WINDOW"]
    live_app.config["FRESH_LOGIN_WINDOW"] = timedelta(0)  # the head's login is no longer fresh
    try:
        head_page.get_by_test_id("approve").click()
        expect(head_page.locator("main")).to_contain_text("Please confirm your password to continue.")
        assert "/auth/reauthenticate" in head_page.url, head_page.url
    finally:
        live_app.config["FRESH_LOGIN_WINDOW"] = window
    head_page.fill("input[name=password]", DEMO_PASSWORD)
    head_page.fill("input[name=code]", _totp(live_app, "dep-head"))
    _submit(head_page)
    assert head_page.url.startswith(case_url), head_page.url  # back on the case, the approval still to press
    head_page.get_by_test_id("approve").click()
    expect(head_page.locator("h1 [data-status]")).to_have_attribute("data-status", "approved")
    expect(head_page.get_by_test_id("timeline")).to_contain_text("Approved by the head")
    _shot(head_page, "approved")
    head.close()

    # --- the admin starts the handover; the teacher ticks their part, the admin the rest (money with amount) ----
    _log_in(page, base, live_app, "dep-admin")
    _nav(page, "Departures")
    page.get_by_test_id("cases").get_by_role("link", name=leaving).click()
    assert page.url.startswith(case_url), page.url
    page.get_by_test_id("start-handover").click()
    expect(page.get_by_test_id("checklist-progress")).to_have_text("0 of 8 done")
    teacher_page.reload()
    own = teacher_page.get_by_test_id("my-items").locator("li[data-done='0']").first
    own.locator("input[name$='-evidence']").fill("Grade book shared with the maths department")
    own.get_by_role("button", name="Mark done").click()
    expect(teacher_page.locator("main")).to_contain_text("Done: ")
    page.reload()
    expect(page.get_by_test_id("checklist-progress")).to_have_text("1 of 8 done")
    for done in range(2, 9):
        item = page.get_by_test_id("checklist").locator("li[data-done='0']").first
        item.locator("input[name$='-evidence']").fill(EVIDENCE)
        if item.locator("input[name$='-amount']").count():
            item.locator("input[name$='-amount']").fill(MONEY)
        item.get_by_role("button", name="Mark done").click()
        expect(page.get_by_test_id("checklist-progress")).to_have_text(f"{done} of 8 done")
    expect(page.get_by_test_id("checklist").get_by_test_id("amount")).to_contain_text(MONEY)  # ¥ or CN¥
    expect(page.get_by_test_id("checklist")).to_contain_text(f"Evidence: {EVIDENCE}")
    _shot(page, "checklist")

    # the school lets her go today instead (a departure is settled on its last working day or later): a day
    # before the earliest one needs the waiver's reason, refused without it
    page.locator("summary", has_text="Change the last working day").click()
    last_day = page.locator("form[action$='/last-day']")
    last_day.locator("input[name$='last_working_day']").fill(today.isoformat())
    last_day.get_by_role("button", name="Change the day").click()
    expect(page.locator("form[action$='/last-day']")).to_contain_text("record why the notice is waived")
    refused = [error for error in console_errors if "422" in error]
    assert refused, console_errors
    for error in refused:
        console_errors.remove(error)
    last_day = page.locator("form[action$='/last-day']")
    last_day.locator("input[name$='last_working_day']").fill(today.isoformat())
    last_day.locator("input[name$='waiver_reason']").fill(WAIVER)
    last_day.get_by_role("button", name="Change the day").click()
    expect(page.locator("main")).to_contain_text(f"Last working day changed to {today.isoformat()}.")

    # --- the plan: ranked colleagues per class; Okafor (first) for 8(1), Park for 8(2); the loads ---------------
    page.get_by_test_id("open-plan").click()
    lines = page.get_by_test_id("plan-line")
    expect(lines).to_have_count(3)
    for n in range(3):
        best = lines.nth(n).get_by_test_id("candidate").first
        expect(best).to_contain_text(first)
        expect(best.get_by_test_id("reasons")).to_contain_text("qualified")
        expect(best.get_by_test_id("reasons")).to_contain_text("same department")
    _choose(page, "8(1) · Journey Maths", first)
    _choose(page, "8(1) · homeroom teacher", first)
    _choose(page, "8(2) · Journey Maths", second)
    loads = page.get_by_test_id("loads")
    expect(loads.locator("tr", has_text=first)).to_contain_text("0 → 5")
    expect(loads.locator("tr", has_text=second)).to_contain_text("0 → 4")
    _shot(page, "plan")

    # the parents' notice: who gets it, the wording edited, the preview with the facts (never the reason)
    counts = page.get_by_test_id("notice-counts")
    expect(counts).to_contain_text("5 guardians")
    expect(counts).to_contain_text("1 with a portal account")
    page.fill("textarea[name=wording_en]", WORDING)
    page.get_by_role("button", name="Save the wording").click()
    preview = page.get_by_test_id("notice-preview")
    expect(preview).to_contain_text(WORDING)
    expect(preview).to_contain_text(f"8(1), Journey Maths: {leaving} → {first} from {effective.isoformat()}")
    expect(preview).to_contain_text(f"8(2), Journey Maths: {leaving} → {second} from {effective.isoformat()}")
    assert PRIVATE_REASON not in preview.inner_text()
    _shot(page, "preview")
    page.get_by_test_id("confirm-plan").click()

    # --- the deliveries: pending until the worker sends them (in-process here), then sent ----------------------
    expect(page.locator("main")).to_contain_text("5 parents notified.")
    assert "/deliveries" in page.url, page.url
    expect(page.get_by_test_id("count-pending")).to_have_text("5")
    expect(page.get_by_role("button", name="Parents notified — continue")).to_be_disabled()
    assert _dispatch(live_app, case_id) == 5
    page.reload()
    expect(page.get_by_test_id("count-sent")).to_have_text("5")
    expect(page.get_by_test_id("count-pending")).to_have_text("0")
    expect(page.get_by_test_id("delivery").filter(has_text="Nora Grant")).to_have_attribute("data-state", "sent")
    _shot(page, "deliveries")
    page.get_by_role("button", name="Parents notified — continue").click()
    expect(page.locator("main")).to_contain_text("Parents are notified: the departure moves on.")
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "parents_notified")

    # --- the parent reads the notice about both children and acknowledges it ---------------------------------
    parent, parent_page = _new_page(browser, console_errors)
    _log_in(parent_page, base, live_app, "dep-parent")
    _nav(parent_page, "Notices")
    parent_page.get_by_test_id("my-notice").first.click()
    notice = parent_page.get_by_test_id("notice")
    leo, mia = ids["children"]
    expect(notice.get_by_test_id("notice-child").filter(has_text=leo)).to_contain_text("8(1) · Journey Maths")
    expect(notice.get_by_test_id("notice-child").filter(has_text=leo)).to_contain_text("8(1) · homeroom teacher")
    expect(notice.get_by_test_id("notice-child").filter(has_text=mia)).to_contain_text("8(2) · Journey Maths")
    text = notice.inner_text()
    assert f"{leaving} → {first}" in text and f"{leaving} → {second}" in text, text
    assert f"from {_full(effective)}" in text, text
    assert WORDING in text and PRIVATE_REASON not in text, text
    _shot(parent_page, "parent-notice")
    parent_page.get_by_role("button", name="I have read this").click()
    expect(parent_page.get_by_test_id("acknowledged")).to_be_visible()
    parent.close()
    page.get_by_test_id("open-deliveries").click()
    expect(page.get_by_test_id("count-acknowledged")).to_have_text("1")

    # --- the admin ends the teacher's access early: the teacher's open browser is logged out --------------------
    page.goto(case_url)
    page.locator("summary", has_text="End portal access now").click()
    page.locator("form[action$='/revoke'] input[name$='note']").fill(EARLY_END)
    page.get_by_role("button", name="End access now").click()
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "access_revoked")
    assert not _stored(live_app, case_id)["teacher_active"]
    teacher_page.reload()
    teacher_page.wait_for_load_state()
    assert "/auth/login" in teacher_page.url, teacher_page.url
    expect(teacher_page.locator("input[name=email]")).to_be_visible()
    teacher.close()

    # --- the admin settles (the final pay is shown) and closes; the timeline tells the whole story -------------
    page.get_by_test_id("settle").click()
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "settled")
    stored = _stored(live_app, case_id)
    assert stored["final_pay"] > 0 and stored["contract"] == "ended" and stored["staff_status"] == "departed", stored
    settlement = page.get_by_test_id("settlement")
    expect(settlement).to_contain_text(f"{stored['final_pay']:,.2f}")
    expect(settlement).to_contain_text(MONEY)
    expect(settlement).to_contain_text("ended")
    page.get_by_test_id("close").click()
    expect(page.locator("h1 [data-status]")).to_have_attribute("data-status", "closed")
    _shot(page, "closed")
    timeline = page.get_by_test_id("timeline")
    actions = [action.removeprefix("offboarding.") for action in
               timeline.locator("li[data-action]").evaluate_all("items => items.map(i => i.dataset.action)")]
    for step in ("submitted", "approved", "handover_started", "item_done", "last_day_changed", "plan_chosen",
                 "notice_wording_changed",
                 "reassigned", "parents_notices_written", "parents_notified", "notice_acknowledged", "access_ended",
                 "access_revoked", "settled", "closed"):
        assert step in actions, (step, actions)
    assert actions.index("submitted") < actions.index("approved") < actions.index("reassigned") \
        < actions.index("access_ended") < actions.index("settled") < actions.index("closed"), actions
    for phrase in (f"Departure filed (resignation), last working day {_medium(earliest)}", "Approved by the head",
                   f"Last working day moved from {_medium(earliest)} to {_medium(today)}", WAIVER,
                   "A parent acknowledged the notice", EARLY_END, "Case closed"):
        expect(timeline).to_contain_text(phrase)
    settled = timeline.locator("li[data-action='offboarding.settled']")
    expect(settled).to_contain_text("Settled: final pay")
    expect(settled).to_contain_text(f"{stored['final_pay']:,.2f}")
    assert PRIVATE_REASON not in timeline.inner_text()
