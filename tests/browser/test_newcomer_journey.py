"""Issue 3's "done means", in real Chromium: a newcomer sets up a small school from the downloadable templates.

The district admin adds a school and a class, downloads the three import templates (staff as Excel; students with
guardians and enrolments, and assignments as CSV), writes the school's rows into the downloaded files, uploads each,
checks the preview and confirms; assigns a teacher in the UI; invites the teacher and issues a labour contract; the
teacher sets a password from the invitation, signs with the e-mailed code; the admin countersigns; the staff
profile shows the classes and the contract in force. Codes and links are read from the outbox (the database),
as a person would read them from their mailbox.
"""
from __future__ import annotations

import csv
import re
import time
from datetime import date

import openpyxl
import pyotp
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.general.auth.models import User
from app.general.contracts.models import Contract
from app.general.notifications.models import Notification
from app.school.classes.models import Assignment, Enrollment, Student
from app.school.demo import DEMO_PASSWORD, DEMO_TOTP_SECRETS
from app.school.staff.models import StaffMember
from app.school.staff.queries import local_today

pytestmark = pytest.mark.browser

SCHOOL, CODE, CLASS = "Lakeside Experimental School", "LKS", "初一(1)班"
TEACHER_EMAIL, TEACHER_PASSWORD = "zhao.lei@lakeside.example", "Lakeside-staffroom-2026"
STAFF = [  # employee number, family name, given name, e-mail, subjects
    ("LKS-T001", "赵", "磊", TEACHER_EMAIL, "MATH"),
    ("LKS-T002", "Chen", "Mei", "chen.mei@lakeside.example", "CHN"),
    ("LKS-T003", "孙", "丽", "sun.li@lakeside.example", "ENG"),
]
STUDENTS = [  # number, family name, given name, guardian, relationship, e-mail, phone, channel
    ("LKS-26001", "周", "子涵", "周强", "father", "zhou.qiang@example.com", "13800138001", "sms"),
    ("LKS-26002", "吴", "一诺", "吴敏", "mother", "wu.min@example.com", "", "email"),
    ("LKS-26003", "Lin", "Amy", "Lin Hao", "father", "lin.hao@example.com", "13800138003", "email"),
    ("LKS-26004", "郑", "浩然", "郑洁", "guardian", "", "13800138004", "sms"),
]
OVERRIDE = "Certificate registration with the bureau is in progress."


def _academic_year(today: date) -> str:
    first = today.year if today.month >= 8 else today.year - 1  # academic years run from 1 August
    return f"{first}-{first + 1}"


def _query(live_app, statement):
    with live_app.app_context():
        result = db.session.execute(statement).all()
        db.session.remove()
    return result


def _totp(live_app, local_part: str) -> str:
    """A code the login accepts: the current step, or the next one when an earlier test used the current one."""
    (last,), = _query(live_app, sa.select(User.totp_last_counter).where(
        User.email == f"{local_part}@demo.staffroom.test"))
    totp = pyotp.TOTP(DEMO_TOTP_SECRETS[local_part])
    counter = totp.timecode(time.time())
    return totp.generate_otp(counter if last is None or counter > last else last + 1)


def _submit(page) -> None:
    page.locator("main form").locator("input[type=submit], button[type=submit]").first.click()
    page.wait_for_load_state()


def _log_in(page, base: str, email: str, password: str, code: str | None = None) -> None:
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    _submit(page)
    if code is not None:
        assert "/auth/two-factor" in page.url
        page.fill("input[name=code]", code)
        _submit(page)
    assert page.url.rstrip("/") == base, page.url


def _choose(page, select: str, text: str, group: str = "") -> None:
    """Pick the option of `select` (within the option group `group`) whose label contains `text`, as a person
    reading the list would."""
    options = f"{select} optgroup[label='{group}'] option" if group else f"{select} option"
    page.select_option(select, page.locator(options, has_text=text).first.get_attribute("value"))


# --- the spreadsheets ------------------------------------------------------------------------------------------


def _download(page, base: str, kind: str, label: str, folder) -> str:
    page.goto(f"{base}/imports/")
    with page.expect_download() as download:
        page.locator(f"section[aria-labelledby=kind-{kind}]").get_by_role("link", name=label).click()
    path = str(folder / download.value.suggested_filename)
    download.value.save_as(path)
    return path


def _fill_xlsx(path: str, rows: list[dict]) -> None:
    """Replace the template's example rows by ours, under the template's own header."""
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    sheet.delete_rows(2, sheet.max_row)
    for row in rows:
        sheet.append([row.get(name, "") for name in header])
    workbook.save(path)


def _fill_csv(path: str, rows: list[dict]) -> None:
    """Keep the header and the notes row (skipped on import), replace the example rows by ours."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        header, notes, *_examples = list(csv.reader(file))
    assert notes[0].startswith("#")
    with open(path, "w", encoding="utf-8-sig", newline="") as file:
        writer = csv.writer(file)
        writer.writerows([header, notes, *([row.get(name, "") for name in header] for row in rows)])


def _import(page, base: str, kind: str, path: str, entity: str, created: int) -> None:
    """Upload, read the preview (nothing changed yet), confirm, see it imported."""
    page.goto(f"{base}/imports/")
    page.set_input_files(f"input[name='{kind}-file']", path)
    page.locator(f"section[aria-labelledby=kind-{kind}]").get_by_role("button", name="Upload and preview").click()
    page.wait_for_load_state()
    assert "Nothing has been changed yet" in page.content(), page.locator("main").inner_text()
    counts = page.locator("main table").first.locator("tr", has_text=entity).inner_text().split()
    assert counts[-3:] == [str(created), "0", "0"], counts  # new, updated, unchanged
    page.get_by_role("button", name="Confirm and import").click()
    page.wait_for_load_state()
    assert "The file was imported." in page.content(), page.locator("main").inner_text()


def _import_the_school(page, base: str, folder, year: str, today: date) -> None:
    staff_file = _download(page, base, "staff", "Excel (.xlsx)", folder)
    _fill_xlsx(staff_file, [
        {"school_code": CODE, "employee_number": number, "family_name": family, "given_name": given, "email": email,
         "hired_on": "2020-09-01", "max_weekly_periods": "16", "subjects": subjects}
        for number, family, given, email, subjects in STAFF])
    _import(page, base, "staff", staff_file, "Staff", len(STAFF))

    students_file = _download(page, base, "students", "CSV", folder)
    _fill_csv(students_file, [
        {"school_code": CODE, "student_number": number, "student_family_name": family, "student_given_name": given,
         "academic_year": year, "class_name": CLASS, "guardian_name": guardian, "relationship": relationship,
         "guardian_email": email, "guardian_phone": phone, "preferred_channel": channel, "language": "zh"}
        for number, family, given, guardian, relationship, email, phone, channel in STUDENTS])
    _import(page, base, "students", students_file, "Students", len(STUDENTS))

    assignments_file = _download(page, base, "assignments", "CSV", folder)
    _fill_csv(assignments_file, [
        {"school_code": CODE, "academic_year": year, "class_name": CLASS, "employee_number": number,
         "role": "subject", "subject_code": subjects, "weekly_periods": "5", "starts_on": today.isoformat(),
         "qualification_override": OVERRIDE}
        for number, _family, _given, _email, subjects in STAFF[:2]])
    _import(page, base, "assignments", assignments_file, "Assignments", 2)


# --- the journey -----------------------------------------------------------------------------------------------


def test_a_newcomer_imports_a_school_assigns_and_has_a_contract_signed(browser, page, live_server, live_app,
                                                                       console_errors, tmp_path):
    base = live_server
    with live_app.app_context():
        today = local_today()
    year = _academic_year(today)
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm buttons (issue, countersign)
    _log_in(page, base, "admin@demo.staffroom.test", DEMO_PASSWORD, _totp(live_app, "admin"))

    # a new school of the district, and its first class
    page.goto(f"{base}/org/new?kind=school")
    _choose(page, "select[name=parent]", "Riverside District")
    page.fill("input[name=name]", SCHOOL)
    page.fill("input[name=code]", CODE)
    _submit(page)
    assert f"{SCHOOL} has been created." in page.content()
    page.goto(f"{base}/classes/new")
    _choose(page, "select[name=school]", SCHOOL)
    page.select_option("select[name=grade]", "7")
    page.fill("input[name=name]", CLASS)
    page.fill("input[name=academic_year]", year)
    _submit(page)
    class_url = page.url
    assert re.search(r"/classes/\d+$", class_url) and CLASS in page.locator("h1").inner_text()

    # the three templates, filled in and imported
    _import_the_school(page, base, tmp_path, year, today)
    class_id = int(class_url.rsplit("/", 1)[1])
    enrolled = _query(live_app, sa.select(Student.student_number).join(Enrollment).where(
        Enrollment.class_id == class_id).order_by(Student.student_number))
    assert [number for number, in enrolled] == [number for number, *_rest in STUDENTS]

    # the class page lists the imported teachers; 赵磊 also becomes its homeroom teacher, in the UI
    page.goto(class_url)
    teachers = page.locator("[data-testid=current-teachers]").inner_text()
    assert "赵磊" in teachers and "Mei Chen" in teachers
    (teacher_id,), = _query(live_app, sa.select(StaffMember.id).where(StaffMember.employee_number == "LKS-T001"))
    page.goto(f"{base}/classes/{class_id}/assign?role=homeroom")
    page.select_option("select[name=staff]", str(teacher_id))
    page.fill("input[name=weekly_periods]", "2")
    _submit(page)
    if page.locator("textarea[name=override_reason].is-invalid").count():  # no certificate recorded yet: say why
        console_errors.clear()  # Chromium reports the form's 422 answer as a failed resource
        page.fill("textarea[name=override_reason]", OVERRIDE)
        _submit(page)
    assert "赵磊 is assigned to" in page.content(), page.locator("main").inner_text()

    # the teacher's account (invitation) and a labour contract, issued for signature
    page.goto(f"{base}/staff/{teacher_id}")
    page.select_option("#account select[name=locale]", "en")  # the portal in English for him (Chinese by default)
    page.get_by_role("button", name=f"Create account and invite {TEACHER_EMAIL}").click()
    page.wait_for_load_state()
    assert "an invitation is on its way" in page.content()
    page.locator("#contracts").get_by_role("link", name="New contract").click()
    page.wait_for_load_state()
    _choose(page, "select[name=template]", "· zh", group="Labour contract")  # the Chinese template
    page.fill("input[name=starts_on]", today.isoformat())
    _submit(page)
    contract_id = int(re.search(r"/contracts/(\d+)$", page.url).group(1))
    page.get_by_role("button", name="Issue for signature").click()
    page.wait_for_load_state()
    assert "The contract is issued" in page.content()

    # the teacher sets a password from the invitation and signs with the e-mailed code
    teacher = browser.new_context(locale="en-GB").new_page()
    teacher.goto(base + re.search(r"/auth/invitation/\S+", _mail(live_app, TEACHER_EMAIL, "invitation")).group(0))
    teacher.fill("input[name=new_password]", TEACHER_PASSWORD)
    teacher.fill("input[name=confirm]", TEACHER_PASSWORD)
    _submit(teacher)
    assert "Your password is set" in teacher.content()
    _log_in(teacher, base, TEACHER_EMAIL, TEACHER_PASSWORD)
    teacher.locator("nav").get_by_role("link", name="My contracts").click()
    teacher.get_by_role("link", name="Review and sign").first.click()
    teacher.wait_for_load_state()
    assert f"/contracts/mine/{contract_id}/sign" in teacher.url
    teacher.get_by_role("button", name="Send me a code").click()
    teacher.wait_for_load_state()
    code = re.search(r"\b(\d{6})\b", _mail(live_app, TEACHER_EMAIL, f"contract:{contract_id}:code:")).group(1)
    teacher.fill("input[name=code]", code)
    teacher.get_by_role("button", name="Sign the contract").click()
    teacher.wait_for_load_state()
    assert "You have signed the contract" in teacher.content()
    teacher.context.close()

    # the admin countersigns; the profile gathers the classes and the contract in force
    page.goto(f"{base}/contracts/{contract_id}")
    page.get_by_role("button", name="Countersign").click()
    page.wait_for_load_state()
    (status,), = _query(live_app, sa.select(Contract.status).where(Contract.id == contract_id))
    assert status == "active"
    page.goto(f"{base}/staff/{teacher_id}")
    classes = page.locator("#assignments").inner_text()
    assert CLASS in classes and "Maths" in classes and "Homeroom teacher" in classes
    contract = page.locator("#contracts li", has=page.locator(f"a[href='/contracts/{contract_id}']"))
    assert "Active" in contract.inner_text()
    assert len(_query(live_app, sa.select(Assignment.id).where(Assignment.staff_id == teacher_id))) == 2


def _mail(live_app, address: str, key_part: str) -> str:
    """The text of the latest e-mail to `address` whose idempotency key or template mentions `key_part`."""
    (body,), = _query(live_app, sa.select(Notification.body_text).where(
        Notification.recipient_address == address,
        sa.or_(Notification.idempotency_key.contains(key_part), Notification.template.contains(key_part)))
        .order_by(Notification.id.desc()).limit(1))
    return body
