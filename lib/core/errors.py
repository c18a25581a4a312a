"""The studio's exceptions: one small tree, translated once at the edge that calls a driver or SDK.

Every message is fit to show a person. The tree is defined here; the few errors that belong to one
concern live next to the code that raises them (their module in brackets). A test keeps this list
complete.

    StudioError
    ├── ConfigError          settings are missing or unsafe; the process refuses to start
    ├── NotFound             no such row for this user (also for another user's rows)
    ├── NotAuthenticated     no valid credentials came with a request (an API token)
    ├── PermissionDenied     the acting user may not do this
    ├── InvalidInput         a request or value is malformed (bad features, bad email, ...)
    │   ├── InvalidUpload    an uploaded image was refused; nothing was stored
    │   ├── WebhookRejected  a webhook's signature or body is invalid; nothing was stored
    │   ├── IdempotencyConflict  a key was already used for a different request [lib.credits.ledger]
    │   └── AlignmentFailed  a result cannot be placed on its base [lib.consistency.align]
    ├── StorageError         the object store failed
    ├── BillingError         Stripe refused a request or could not be reached (lib.billing.gateway)
    │   └── BillingRefused   Stripe refused the request, or an event carries a malformed id: retrying cannot help
    ├── InsufficientCredits  the balance cannot cover a request; nothing was held [lib.credits.ledger]
    ├── GenerationFailed     a backend made no image; carries the failure kind [lib.backends.base]
    ├── BatchCallFailed      a Gemini Batch API call got no usable answer [lib.backends.gemini_batch]
    ├── DescribeFailed       "Describe with Gemini" gave no features; nothing changed [lib.backends.describe]
    ├── NotReady             a variant's expression is not finished; run it later [lib.generation.pipeline]
    ├── NoWorker             no worker is alive to run queued differences [lib.generation.batches]
    ├── BackupFailed         a backup or restore could not be completed [lib.ops.backup]
    ├── RateLimited          too many API requests; carries the seconds to wait [lib.api.ratelimit]
    └── CliError             a command-line usage problem found after parsing [lib.cli]
"""

from __future__ import annotations


class StudioError(Exception):
    """Base of every error the studio raises on purpose; its message is fit to show a user."""


class ConfigError(StudioError):
    pass


class NotFound(StudioError):
    pass


class NotAuthenticated(StudioError):
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


class BillingRefused(BillingError):
    pass
