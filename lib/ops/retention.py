"""How long objects are kept: raw model answers expire; on S3, old objects move to cheaper storage.

The pipeline keeps each model answer as it came (`…-raw.png`) beside the finished image, for reviewing what
the model did. After RAW_RETENTION_DAYS a daily worker task deletes them (local disk and S3 alike) and
forgets their keys. On S3, `python -m lib storage lifecycle` also installs the bucket's lifecycle rules:
raw answers (tagged `kind=raw` on upload) expire after the same days even if no worker runs, and every object
of the studio moves to S3_COLD_STORAGE_CLASS after S3_COLD_STORAGE_DAYS.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from lib.core.errors import InvalidInput
from lib.core.queries import q
from lib.core.settings import Settings
from lib.core.storage import ObjectStore, s3_client


def expire_raw(engine: Engine, store: ObjectStore, *, days: int, batch: int = 500) -> int:
    """Delete raw answers of images finished more than `days` ago; returns how many (0 days: keep all)."""
    if days <= 0:
        return 0
    removed = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(q("raw_answers_older_than"), {"days": days, "limit": batch}).all()
            for row in rows:
                store.delete(row.raw_key)
            if rows:
                conn.execute(q("forget_raw_answers"), {"ids": [row.id for row in rows]})
        removed += len(rows)
        if len(rows) < batch:
            return removed


def lifecycle_rules(settings: Settings) -> list[dict[str, Any]]:
    """The bucket lifecycle rules for this studio's prefix."""
    prefix = settings.s3_prefix.strip("/") + "/" if settings.s3_prefix.strip("/") else ""
    rules: list[dict[str, Any]] = []
    if settings.raw_retention_days > 0:
        rules.append({"ID": "studio-raw-answers-expire", "Status": "Enabled",
                      "Filter": {"And": {"Prefix": prefix, "Tags": [{"Key": "kind", "Value": "raw"}]}},
                      "Expiration": {"Days": settings.raw_retention_days}})
    if settings.s3_cold_storage_days > 0:
        rules.append({"ID": "studio-cold-storage", "Status": "Enabled", "Filter": {"Prefix": prefix},
                      "Transitions": [{"Days": settings.s3_cold_storage_days,
                                       "StorageClass": settings.s3_cold_storage_class}]})
    return rules


def apply_lifecycle(settings: Settings) -> list[dict[str, Any]]:
    """Install the rules on S3_BUCKET (replacing its lifecycle configuration); returns them as S3 has them."""
    if not settings.s3_bucket:
        raise InvalidInput("Lifecycle rules are for S3: set S3_BUCKET (local disk keeps its own retention task).")
    client = s3_client(settings)
    rules = lifecycle_rules(settings)
    if rules:
        client.put_bucket_lifecycle_configuration(Bucket=settings.s3_bucket,
                                                  LifecycleConfiguration={"Rules": rules})
    else:
        client.delete_bucket_lifecycle(Bucket=settings.s3_bucket)
        return []
    return client.get_bucket_lifecycle_configuration(Bucket=settings.s3_bucket)["Rules"]
