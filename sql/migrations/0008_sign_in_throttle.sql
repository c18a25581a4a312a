-- Sign-in throttling per account as well as per (account, address). Failures from any address count
-- towards a short account lock that doubles on each repeated lock-out, up to LOGIN_LOCK_MINUTES; a
-- claim takes this row FOR UPDATE first, so simultaneous guesses at one account are checked one by one.
CREATE TABLE login_accounts (
    email         text PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE ON UPDATE CASCADE,
    -- How many lock-outs in a row: the next lock lasts the first lock's length times 2^lock_level.
    lock_level    integer NOT NULL DEFAULT 0 CHECK (lock_level BETWEEN 0 AND 30),
    locked_until  timestamptz,
    -- Failures before this instant no longer count towards the account lock (set by a lock, a sign-in, an unlock).
    counted_from  timestamptz NOT NULL DEFAULT '-infinity'
);
CREATE INDEX login_failures_by_email ON login_failures (email, failed_at);
