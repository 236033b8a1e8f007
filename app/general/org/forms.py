"""Forms for organisation units: shape only; the rules live in services.py."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from app.general.org.models import OrgUnit, OrgUnitKind

TOP_LEVEL = 0  # the parent choice meaning "belongs to nothing"

KIND_ORDER = {OrgUnitKind.DISTRICT: 0, OrgUnitKind.SCHOOL: 1, OrgUnitKind.DEPARTMENT: 2}
KIND_LABELS = {
    OrgUnitKind.DISTRICT: _l("District"),
    OrgUnitKind.SCHOOL: _l("School"),
    OrgUnitKind.DEPARTMENT: _l("Department"),
}


class UnitForm(FlaskForm):
    """Edit a unit: name, code and where it belongs (its kind is fixed once created)."""

    parent = SelectField(_l("Belongs to"), coerce=int,
                         description=_l("A department belongs to a school; a school to a district."))
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)],
                       description=_l("A short unique code such as RS1-MATH (letters, digits, . _ -)."))
    submit = SubmitField(_l("Save"))

    def set_parent_choices(self, candidates: list[OrgUnit], *, current: OrgUnit | None = None,
                           top_level: bool = False) -> None:
        """Offer `candidates` grouped by kind; the current parent stays selectable even when out of reach."""
        units = list(candidates)
        if current is not None and all(unit.id != current.id for unit in units):
            units.insert(0, current)
        units.sort(key=lambda unit: KIND_ORDER[OrgUnitKind(unit.kind)])  # stable: names stay sorted per kind
        choices = []
        if top_level:
            choices.append(SelectChoice(TOP_LEVEL, _l("— nothing (top level) —"), optgroup=_l("Top level")))
        choices += [
            SelectChoice(unit.id, f"{unit.name} ({unit.code})", optgroup=KIND_LABELS[OrgUnitKind(unit.kind)])
            for unit in units
        ]
        self.parent.choices = choices


class CreateUnitForm(UnitForm):
    """Add a unit: its kind too."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
                       validators=[InputRequired()])
