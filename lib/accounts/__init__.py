"""Accounts: users, passwords, roles, sign-in throttling, server-side session revocation, first start-up.

`users` owns the users table; `bootstrap` migrates the database and seeds the first admin for every
face that starts the studio. May import `lib.credits` (an account starts with its month's credits)
and the layers below.
"""
