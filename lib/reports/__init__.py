"""Reports: the admins' view of credits, Gemini cost against revenue, failures and latency.

`frames` builds the report DataFrames from named SQL; `dashboard` is what the admin Reports page shows
(filter choices, every report for one choice, headline figures); `rollup` keeps the daily and monthly rollup
tables current; `tasks` is the procrastinate Blueprint that refreshes them. May import
`lib.accounts`, `lib.credits` and the layers below.
"""
