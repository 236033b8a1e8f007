"""Offboarding: departure cases, handover checklists and blockers, reassignment of classes, parent notices,
access revocation and settlement."""
