"""The filter form's cheaper select widget renders exactly what wtforms' own would."""
from __future__ import annotations

from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import Select

from app.school.staff.forms import LongSelect

CHOICES = [SelectChoice("", "Any <department>"), SelectChoice(3, 'A "quoted" & <b>', optgroup="School <1>"),
           SelectChoice(4, "王芳", optgroup="School <1>"), SelectChoice("x'y", None),
           SelectChoice(5, "Chosen", optgroup="B"), SelectChoice(6, "Extra", render_kw={"data_kind": "x"})]


def _rendered(widget) -> str:
    class ChoiceForm(Form):
        unit = SelectField(choices=CHOICES, widget=widget)

    return str(ChoiceForm(MultiDict({"unit": "5"})).unit(class_="form-select"))


def test_long_select_renders_the_same_html_as_wtforms_select():
    html = _rendered(LongSelect())
    assert html == _rendered(Select())
    assert '<option selected value="5">Chosen</option>' in html and "&lt;b&gt;" in html
