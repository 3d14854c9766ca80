"""Users, roles, scopes, bearer tokens and sign-in."""
