"""Placeholder: `flask demo load`."""
COMMANDS = ()
