"""The navigation bar: what each role sees, and the Administration menu that keeps an admin's bar short."""
from __future__ import annotations

import re

MENU = re.compile(r'dropdown-toggle[^>]*>Administration</a>\s*<ul class="dropdown-menu">(.*?)</ul>', re.S)


def _bar(html: str) -> str:
    return html.split('id="mainnav"', 1)[1].split("</nav>", 1)[0]


def test_admin_tools_are_grouped_in_one_administration_menu(client, login_as):
    login_as("admin")
    bar = _bar(client.get("/").get_data(as_text=True))
    menu = MENU.search(bar)
    assert menu, "an admin's bar has an Administration menu"
    inside = menu.group(1)
    for label in ("Imports", "Organisation", "Users", "Deliveries", "Audit log"):
        assert f">{label}</a>" in inside
    outside = bar.replace(menu.group(0), "")
    assert ">Users</a>" not in outside and ">Audit log</a>" not in outside
    assert ">Staff</a>" in outside  # everyday pages stay on the bar


def test_a_group_with_one_visible_entry_is_a_plain_link(client, login_as):
    login_as("head")
    bar = _bar(client.get("/").get_data(as_text=True))
    assert "Administration" not in bar
    assert ">Organisation</a>" in bar  # a head sees the organisation only: no menu of one


def test_teachers_see_no_administration(client, login_as):
    login_as("teacher")
    bar = _bar(client.get("/").get_data(as_text=True))
    assert "Administration" not in bar and ">Users</a>" not in bar


def _active_entries(bar: str) -> list[str]:
    """The addresses of the highlighted entries (a highlighted menu holds exactly one of them)."""
    return re.findall(r'(?:nav-link text-nowrap|dropdown-item) active" href="([^"]+)"', bar)


def test_one_entry_is_active_even_when_two_share_a_blueprint(client, login_as):
    login_as("admin")
    bar = _bar(client.get("/credentials/compliance").get_data(as_text=True))
    assert _active_entries(bar) == ["/credentials/compliance"]
    bar = _bar(client.get("/credentials/").get_data(as_text=True))
    assert _active_entries(bar) == ["/credentials/"]


def test_teaching_and_pay_share_a_menu_and_a_pay_page_highlights_pay(client, login_as):
    login_as("admin")
    bar = _bar(client.get("/teaching/pay/schemes").get_data(as_text=True))
    menu = re.search(r'dropdown-toggle[^>]*>Teaching and pay</a>\s*<ul class="dropdown-menu">(.*?)</ul>', bar, re.S)
    assert menu and ">Teaching</a>" in menu.group(1) and ">Pay</a>" in menu.group(1)
    assert _active_entries(bar) == ["/teaching/pay/"]


def test_a_teachers_statement_page_highlights_my_pay(client, login_as):
    login_as("teacher")
    bar = _bar(client.get("/teaching/pay/mine").get_data(as_text=True))
    assert _active_entries(bar) == ["/teaching/pay/mine"]


def test_classes_and_teacher_load_share_a_menu_so_an_admins_bar_fits_a_laptop(client, login_as):
    login_as("admin")
    bar = _bar(client.get("/").get_data(as_text=True))
    menu = re.search(r'dropdown-toggle[^>]*>Classes</a>\s*<ul class="dropdown-menu">(.*?)</ul>', bar, re.S)
    assert menu and ">Classes</a>" in menu.group(1) and ">Teacher load</a>" in menu.group(1)
    assert ">Departures</a>" in bar.replace(menu.group(0), "")
