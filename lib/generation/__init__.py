"""Generation: jobs and batches of differences (差分), from submit to a captured credit.

`jobs` owns the job and difference rows and reviews; `batches` submits a whole set in one
transaction (plan check, credit holds, one task per difference) and cancels or waits for it;
`enqueue` writes the tasks on the caller's connection; `pipeline` runs one difference end to end;
`runtime` is a worker's engine, store and rate-limited backends; `access` stops an account's work
when it is disabled; `tasks` is the procrastinate Blueprint. May import `lib.catalog`, `lib.accounts`,
`lib.credits`, `lib.consistency`, `lib.backends` and the layers below.
"""
