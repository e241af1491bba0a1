-- The rows of queries/texts.sql on a store with kept facts: the judged
-- contacts that carry text, read by row id, so that only the row groups
-- holding them are read (a night's contacts are appended together), never
-- the text of the whole history. A row whose id no longer names its event
-- is left out; audit/text_rules.py counts the rows and falls back to
-- texts.sql when any is missing.
-- Parameters: $first_rowid, $last_rowid (the judged contacts' row ids lie between)
WITH judged AS (
    SELECT event_id, contact_rowid, channel, is_third_party, local_date, overdue_amount, principal, borrower_id
    FROM facts
    WHERE judged AND has_content
),
fetched AS (
    SELECT rowid AS contact_rowid, event_id, content
    FROM contacts
    WHERE rowid BETWEEN $first_rowid AND $last_rowid AND content IS NOT NULL
)
SELECT j.event_id, j.channel, j.is_third_party, j.local_date,
       CASE WHEN j.is_third_party THEN j.overdue_amount END AS overdue_amount, j.principal, t.content,
       CASE WHEN j.is_third_party THEN j.borrower_id END AS borrower_id,
       b.id_number, b.bank_card, b.phone, b.address
FROM judged j
JOIN fetched t ON t.contact_rowid = j.contact_rowid AND t.event_id = j.event_id
LEFT JOIN borrowers b ON j.is_third_party AND b.borrower_id = j.borrower_id
