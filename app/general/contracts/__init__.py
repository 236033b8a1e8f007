"""Contracts: versioned templates, contracts with a generic party, e-signatures with evidence, obligations.

A general module: it knows org units and portal accounts, never the school code that owns a party.
"""
