"""Notifications: telling people a batch has ended — in the app, by email (SMTP) and to their own webhook.

Postgres writes one notice per batch when the batch's status first turns final (a trigger), so several
workers finishing items at once still make one. `inbox` shows and lists notices and keeps each user's
preferences; `delivery` sends the due emails and webhook events with retries and backoff, from a
periodic worker task (`tasks`), never from the worker that made the images. May import `lib.accounts`
and the layers below (it reads batches through its own named SQL).
"""
