"""Organisation units: the district, its schools and their departments."""
