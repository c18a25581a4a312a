"""Operations: what keeps a studio safe to run — backups that restore, metrics, alarms and health.

`backup` writes the database (`pg_dump`, custom format, PostgreSQL's own tools) and every stored object into
a directory with a manifest of sha256s, and restores such a directory into an empty studio, checking every
file first; `metrics` reads the studio's health from Postgres for `GET /metrics` (lib/api/metrics.py);
`alarms` evaluates health checks over a window and tells admins when one turns (`tasks` runs it every
minute); `health` is what the admin Health page shows. A layer of its own above the domain packages: may
import them (`lib.notifications` sends alarm emails) and everything below.
"""
