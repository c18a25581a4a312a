"""The studio's exceptions: one small tree, translated once at the edge that calls a driver or SDK.

    StudioError
    ├── ConfigError        settings are missing or unsafe; the process refuses to start
    ├── NotFound           no such row for this user (also for another user's rows)
    ├── PermissionDenied   the acting user may not do this
    ├── InvalidInput       a request or value is malformed (bad features, bad email, ...)
    │   ├── InvalidUpload  an uploaded image was refused; nothing was stored
    │   └── WebhookRejected  a webhook's signature or body is invalid; nothing was stored
    ├── StorageError       the object store failed
    └── BillingError       Stripe refused a request or could not be reached (lib/billing/gateway.py)
"""

from __future__ import annotations


class StudioError(Exception):
    """Base of every error the studio raises on purpose; its message is fit to show a user."""


class ConfigError(StudioError):
    pass


class NotFound(StudioError):
    pass


class PermissionDenied(StudioError):
    pass


class InvalidInput(StudioError):
    pass


class InvalidUpload(InvalidInput):
    pass


class StorageError(StudioError):
    pass


class WebhookRejected(InvalidInput):
    pass


class BillingError(StudioError):
    pass
