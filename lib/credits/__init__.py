"""Credits: the append-only ledger whose rows explain every balance, and holds that cannot overspend.

`ledger` owns balances, holds, captures, releases, grants and monthly resets (idempotency keys make
each happen once); `statement` is what users read of their own credits; `tasks` is its procrastinate
Blueprint (the monthly reset). The lowest domain package: may import only `lib.core`.
"""
