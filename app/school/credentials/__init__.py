"""Credentials and renewals: credential types, certification periods with documents, training hours,
the renewal workflow, staged reminders, compliance, and the qualification check other modules use."""
