"""Issue 5's journey in real Chromium: an admin creates the autumn term of a school, imports its timetable, generates
the lessons, records an absence and gives the lesson to a colleague from the cover screen, adds a pay scheme, opens
and calculates November's pay run; the head (reading in Chinese) approves it; the admin locks it and downloads the
Excel for the payroll office; the teacher checks their hours and their statement, and cannot open a colleague's.

The school, its people and the journey's own admin and head are set up here on the live server's database, so the
journey depends on nothing the demo loads (and leaves the demo accounts' one-time codes to the other tests).
"""
from __future__ import annotations

import csv
import io
import os
import time
from datetime import date
from decimal import Decimal

import openpyxl
import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import User
from app.school.demo import DEMO_PASSWORD
from app.school.teaching.models import Lesson, LessonKind, PayLine, PayRun

pytestmark = pytest.mark.browser

DOMAIN = "demo.staffroom.test"
PEOPLE = {  # local part: (role, unit code, locale)
    "pay-admin": ("admin", "RIVERSIDE", "en"),
    "pay-head": ("head", "PJ1", "zh"),
    "pay-teacher": ("teacher", "PJ1", "en"),
}
SECRETS = {local: pyotp.random_base32() for local, (role, _unit, _locale) in PEOPLE.items() if role != "teacher"}
ABSENT_DAY = date(2026, 11, 4)  # a Wednesday
SHOTS = os.environ.get("PAY_SCREENSHOTS")  # a folder: save screenshots there (for looking at the pages)


def _shot(page, name: str) -> None:
    """Desktop and phone screenshots of the current page, when PAY_SCREENSHOTS names a folder."""
    if not SHOTS:
        return
    page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)
    size = page.viewport_size
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=os.path.join(SHOTS, f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def _set_up(live_app) -> dict:
    """School PJ1 with two maths teachers (Wu, who has an account, and Zheng), classes 8(1) and 8(2), their
    assignments (Zheng is also homeroom teacher of 8(1)), and the journey's admin, head and teacher accounts."""
    from app.core.models import utcnow
    from app.general.auth.models import UserScope
    from app.general.auth.passwords import hash_password
    from app.general.org.models import OrgUnit
    from app.school.classes.models import Assignment, SchoolClass, Subject
    from app.school.staff.models import StaffMember

    with live_app.app_context():
        from app.general.audit.services import SYSTEM
        from app.general.org.services import create_unit

        district = db.session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "RIVERSIDE"))
        school = create_unit(kind="school", name="Pine Journey School", code="PJ1", parent=district, actor=SYSTEM)
        maths = Subject(code="PJMATH", name="Journey Maths")
        db.session.add(maths)
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
        wu = StaffMember(school=school, employee_number="PJ-001", family_name="吴", given_name="老师",
                         hired_on=date(2020, 8, 20), user=users["pay-teacher"], subjects=[maths])
        zheng = StaffMember(school=school, employee_number="PJ-002", family_name="郑", given_name="老师",
                            hired_on=date(2019, 8, 20), subjects=[maths])
        first = SchoolClass(school=school, academic_year="2026-2027", grade=8, name="8(1)")
        second = SchoolClass(school=school, academic_year="2026-2027", grade=8, name="8(2)")
        db.session.add_all([wu, zheng, first, second])
        db.session.flush()
        start = date(2026, 9, 1)
        db.session.add_all([
            Assignment(school_class=first, staff=wu, role="subject", subject=maths, weekly_periods=3, starts_on=start),
            Assignment(school_class=second, staff=zheng, role="subject", subject=maths, weekly_periods=2,
                       starts_on=start),
            Assignment(school_class=first, staff=zheng, role="homeroom", weekly_periods=0, starts_on=start),
        ])
        db.session.commit()
        ids = {"school": school.id, "wu": wu.id, "zheng": zheng.id}
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


def _menu(page, menu: str, entry: str) -> None:
    """Open a menu of the navigation bar and follow one of its entries, as a person would."""
    page.locator("nav").get_by_role("button", name=menu).or_(
        page.locator("nav").get_by_role("link", name=menu, exact=True)).first.click()
    page.locator("nav .dropdown-menu").get_by_role("link", name=entry, exact=True).click()
    page.wait_for_load_state()


def _choose(page, select: str, text: str) -> None:
    page.select_option(select, page.locator(f"{select} option", has_text=text).first.get_attribute("value"))


def _timetable_file(folder) -> str:
    """Wu teaches 8(1) on Monday 1, Wednesday 2 and Friday 3; Zheng teaches 8(2) on Tuesday 1 and Thursday 2."""
    path = folder / "timetable.csv"
    rows = [("1", "1", "8(1)", "PJ-001"), ("3", "2", "8(1)", "PJ-001"), ("5", "3", "8(1)", "PJ-001"),
            ("2", "1", "8(2)", "PJ-002"), ("4", "2", "8(2)", "PJ-002")]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["school_code", "term", "weekday", "period", "class", "subject", "employee_number"])
        for weekday, period, name, number in rows:
            writer.writerow(["PJ1", "Autumn 2026", weekday, period, name, "PJMATH", number])
    return str(path)


def test_a_month_of_pay_from_timetable_to_statement(browser, page, live_server, live_app, tmp_path):
    ids = _set_up(live_app)
    base = live_server
    page.on("dialog", lambda dialog: dialog.accept())

    # the admin: the term, from the Teaching page
    _log_in(page, base, live_app, "pay-admin")
    _menu(page, "Teaching and pay", "Teaching")
    page.goto(f"{base}/teaching/terms/new")
    _choose(page, "select[name=school]", "Pine Journey School")
    page.fill("input[name=name]", "Autumn 2026")
    page.fill("input[name=starts_on]", "2026-09-01")
    page.fill("input[name=ends_on]", "2027-01-22")
    _submit(page)
    assert "/teaching/terms/" in page.url, page.locator("main").inner_text()
    term_url = page.url

    # the timetable, imported: preview first (nothing written), then confirmed
    page.goto(f"{base}/imports/")
    page.set_input_files("input[name='timetable-file']", _timetable_file(tmp_path))
    page.locator("section[aria-labelledby=kind-timetable]").get_by_role("button", name="Upload and preview").click()
    page.wait_for_load_state()
    assert "Nothing has been changed yet" in page.content(), page.locator("main").inner_text()
    page.get_by_role("button", name="Confirm and import").click()
    page.wait_for_load_state()
    assert "The file was imported." in page.content(), page.locator("main").inner_text()

    # the lessons of the term, generated (a second press adds nothing)
    page.goto(term_url)
    page.locator("form[action$='/generate'] button").click()
    page.wait_for_load_state()
    generated = int(page.get_by_test_id("lessons").inner_text())
    assert generated > 80
    page.locator("form[action$='/generate'] button").click()
    page.wait_for_load_state()
    assert int(page.get_by_test_id("lessons").inner_text()) == generated
    _shot(page, "term")

    # Wu is away on Wednesday 4 November: the cover screen offers Zheng, who is free and teaches maths
    page.goto(f"{base}/teaching/covers?school_id={ids['school']}&day={ABSENT_DAY.isoformat()}")
    absence = "form[action*='/absences?']"
    _choose(page, f"{absence} select[name=staff_id]", "吴")
    page.locator(f"{absence} input[name=reason]").fill("Training day")
    _submit(page, absence)
    candidate = page.locator("form[action$='/covers/assign']", has_text="郑").first
    candidate.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "covers period 2" in page.locator("main").inner_text()
    _shot(page, "covers")

    # the pay scheme of the school
    page.goto(f"{base}/teaching/pay/schemes/new")
    if page.locator("select[name=school]").count():
        _choose(page, "select[name=school]", "Pine Journey School")
    page.fill("input[name=name]", "2026 performance pay")
    page.fill("input[name=effective_from]", "2026-09-01")
    page.fill("input[name=standard_monthly_periods]", "10")
    page.fill("input[name=overtime_rate]", "30")
    page.fill("input[name=homeroom_allowance]", "800")
    page.fill("input[name=point_value]", "10")
    for kind, rate in (("regular", "50"), ("cover", "60"), ("extra", "55"), ("open_class", "120"),
                       ("invigilation", "30"), ("homeroom", "40")):
        page.fill(f"input[name=rate_{kind}]", rate)
    _submit(page)
    assert "has been saved" in page.locator("main").inner_text(), page.locator("main").inner_text()

    # November's run: opened, calculated, reviewed
    _menu(page, "Teaching and pay", "Pay")
    _choose(page, "form[action$='/pay/runs/open'] select[name=school]", "Pine Journey School")
    page.fill("form[action$='/pay/runs/open'] input[name=month]", "2026-11")
    _submit(page, "form[action$='/pay/runs/open']")
    run_url = page.url
    page.locator("form[action$='/calculate'] button").click()
    page.wait_for_load_state()
    review = page.locator("main").inner_text()
    _shot(page, "run")
    assert "吴老师" in review and "郑老师" in review, review

    # the head approves, in Chinese
    head = browser.new_context(locale="zh-CN")
    head_page = head.new_page()
    head_page.on("dialog", lambda dialog: dialog.accept())
    _log_in(head_page, base, live_app, "pay-head")
    head_page.goto(run_url)
    _shot(head_page, "run-head-zh")
    head_page.locator("form[action$='/approve'] button").click()
    head_page.wait_for_load_state()
    head.close()

    # the admin locks it and downloads the Excel for the payroll office
    page.goto(run_url)
    page.locator("form[action$='/lock'] button").click()
    page.wait_for_load_state()
    with live_app.app_context():
        run = db.session.scalar(sa.select(PayRun).where(PayRun.school_id == ids["school"]))
        assert run.status == "locked"
        lines = {line.staff_id: line for line in db.session.scalars(sa.select(PayLine).where(PayLine.run_id == run.id))}
        covered = db.session.scalar(sa.select(Lesson).where(Lesson.day == ABSENT_DAY, Lesson.kind == LessonKind.COVER))
        assert covered.taught_by_id == ids["zheng"] and covered.scheduled_staff_id == ids["wu"]
        wu_total, zheng_total = lines[ids["wu"]].total, lines[ids["zheng"]].total
        zheng_line = lines[ids["zheng"]].id
        assert lines[ids["zheng"]].allowance_amount == Decimal("800.00")
        db.session.remove()
    with page.expect_download() as download:
        page.locator("a[href$='/export.xlsx']").first.click()
    book = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    cells = [str(cell.value) for row in book.worksheets[0].iter_rows() for cell in row if cell.value is not None]
    assert any("PJ-001" in cell for cell in cells) and any("PJ-002" in cell for cell in cells)

    # the teacher: their hours (chart and figures) and their statement; a colleague's is not theirs to read
    teacher = browser.new_context(locale="en-GB")
    teacher_page = teacher.new_page()
    _log_in(teacher_page, base, live_app, "pay-teacher")
    teacher_page.locator("nav").get_by_role("link", name="My hours").click()
    assert teacher_page.locator("main svg").count() >= 1
    _shot(teacher_page, "my-hours")
    teacher_page.locator("nav").get_by_role("link", name="My pay").click()
    statement = teacher_page.locator("main").inner_text()
    _shot(teacher_page, "my-pay")
    assert "2026-11" in statement or "November 2026" in statement, statement
    assert f"{wu_total:,.2f}" in statement, (wu_total, statement)
    assert zheng_total != wu_total and f"{zheng_total:,.2f}" not in statement
    response = teacher_page.goto(f"{base}/teaching/pay/mine/{zheng_line}")
    assert response.status == 404
    teacher.close()
