"""Core: what every other package stands on and nothing of the studio's own.

Owns the one settings object, the exception tree and incidents (unexpected errors logged under an id),
database engines and migrations, the named SQL queries from `sql/queries/`, object storage (local disk
or S3) and image bytes (upload hardening, PNG encoders). May import only third-party libraries: no
other lib package.
"""
