"""Loopback stand-ins for the outside world: an SMTP sink, an SMS gateway, a network guard."""
