-- /metrics reads the queue at every scrape: the waiting images, oldest first, without scanning the rest.
CREATE INDEX differences_queued ON differences (created_at) WHERE status = 'queued';
