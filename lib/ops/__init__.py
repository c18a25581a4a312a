"""Operations: what keeps a studio safe to run — backups that restore, and metrics for Prometheus.

`backup` writes the database (`pg_dump`, custom format) and every stored object into a directory with a
manifest of sha256s, and restores such a directory into an empty studio, checking every file first;
`metrics` reads the studio's health from Postgres for `GET /metrics` (lib/api/metrics.py). May
import `lib.accounts` and the layers below; it runs PostgreSQL's own client tools rather than copying rows.
"""
