"""Core: what every other package stands on and nothing of the studio's own.

Owns the one settings object, the exception tree and incidents (unexpected errors logged under an id),
database engines and migrations, the named SQL queries from `sql/queries/`, object storage (local disk
or S3), image bytes (upload hardening, PNG encoders) and the Markdown escape for user text. May import
only third-party libraries: no other lib package.
"""
