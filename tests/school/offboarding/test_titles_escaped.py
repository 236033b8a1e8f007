"""Checklist titles are data: an admin's own wording is shown escaped and unformatted on every page that lists it,
and a default title is shown in the reader's language."""
from __future__ import annotations

from app.extensions import db
from app.school.offboarding.services import checklist
from tests import factories
from tests.school.offboarding.conftest import to_handover

TITLE = "<b>Laptop</b> 100% {{7*7}} returned"


def test_an_admins_title_is_escaped_on_the_case_and_the_teachers_page(app, client, departure, today):
    d = departure
    case = to_handover(d)
    checklist.add_item(case, title=TITLE, owner="teacher", actor=d.admin)
    db.session.commit()
    for user, url in ((d.admin, f"/departures/{case.id}"), (d.leaving_user, "/departures/mine")):
        factories.log_in(client, user)
        html = client.get(url).get_data(as_text=True)
        assert "&lt;b&gt;Laptop&lt;/b&gt; 100% {{7*7}} returned" in html
        assert "<b>Laptop</b>" not in html and "100{}" not in html and ">49" not in html


def test_a_default_title_is_translated_for_a_chinese_reader(app, departure, today):
    from flask_babel import force_locale

    default = checklist.DEFAULT_ITEMS["teacher"][0][0]
    with app.test_request_context(), force_locale("zh"):
        assert checklist.item_title(TITLE) == TITLE
        assert checklist.item_title(default) == "钥匙、工作证和设备（笔记本电脑、平板电脑）已归还"
