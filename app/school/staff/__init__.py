"""Staff members of the schools: records, accounts, the profile page."""
