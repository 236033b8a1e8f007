"""The staff profile page (admins and heads in scope) and "My profile" (the teacher's own record).

Later modules add a card to the page with `register_profile_card(template, context=...)`: `context(staff,
viewer, own)` returns the card's template variables, or None to leave the card out for this viewer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import render_template

from app.general.auth.policy import authorize, can, requires
from app.school.staff import forms, queries
from app.school.staff.models import StaffMember
from app.school.staff.views import bp
from app.school.staff.views.common import actor, load_staff


@dataclass(frozen=True)
class ProfileCard:
    template: str
    order: int
    context: Callable[[StaffMember, Any, bool], dict | None]


PROFILE_CARDS: list[ProfileCard] = []


def register_profile_card(template: str, *, order: int = 50,
                          context: Callable[[StaffMember, Any, bool], dict | None] = lambda *_: {}) -> None:
    """Show `template` as a card on the profile page (assignments 10, contracts 20, timeline last)."""
    if all(card.template != template for card in PROFILE_CARDS):
        PROFILE_CARDS.append(ProfileCard(template, order, context))
        PROFILE_CARDS.sort(key=lambda card: card.order)


def _extra_cards(staff: StaffMember, own: bool) -> list[tuple[str, dict]]:
    cards = ((card.template, card.context(staff, actor(), own)) for card in PROFILE_CARDS)
    return [(template, context) for template, context in cards if context is not None]


def _render(staff: StaffMember, *, own: bool):
    viewer = actor()
    manage = not own and can(viewer, "staff.manage", staff)
    contracts_permission = "contracts.view_own" if own else "contracts.view"
    return render_template(
        "staff/profile.html", staff=staff, own=own, manage=manage,
        profile=queries.staff_profile(staff, own=own),
        show_contracts=can(viewer, contracts_permission), extra_cards=_extra_cards(staff, own),
        create_account_form=forms.CreateAccountForm(locale=(staff.user.locale if staff.user else None) or "zh"),
        link_form=forms.LinkAccountForm(), confirm_form=forms.ConfirmForm(),
    )


@bp.get("/<int:staff_id>")
@requires("staff.view")
def profile(staff_id: int):
    """Everything about one person: record, account, assignments, contracts, and the audit timeline."""
    return _render(load_staff(staff_id, "staff.view"), own=False)


@bp.get("/me")
@requires("staff.view_own")
def mine():
    """The teacher's own record (without the audit timeline, which names the administrators)."""
    staff = queries.staff_for_user(actor())
    if staff is None:
        return render_template("staff/not_linked.html")
    authorize("staff.view_own", staff)
    return _render(staff, own=True)
