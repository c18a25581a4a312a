-- Work follows its owner: an item whose credits are still held cannot be deleted (its hold would be stranded,
-- neither captured nor released). Deleting a character releases its holds first; deleting a whole account
-- takes its ledger with it, so that case is allowed.

CREATE FUNCTION differences_refuse_open_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM credit_transactions h JOIN users u ON u.id = h.user_id
               WHERE h.difference_id = OLD.id AND h.kind = 'hold'
                 AND NOT EXISTS (SELECT 1 FROM credit_transactions r
                                 WHERE r.difference_id = OLD.id AND r.kind IN ('capture', 'release'))) THEN
        RAISE EXCEPTION 'item % still holds credits: cancel it and release them before deleting it', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER differences_no_open_hold BEFORE DELETE ON differences
    FOR EACH ROW EXECUTE FUNCTION differences_refuse_open_hold();
