"""Users, roles and scopes, login and sessions, second factor, and the access policy."""
