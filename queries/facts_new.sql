-- The stored facts (SPEC §2) of the contacts that have none yet: the ones a
-- load added, or those of a loan whose basis changed (their rows were
-- deleted). Only what a contact and its loan fix is stored: zone, local time
-- and date, recipient. DPD, overdue amount and episode depend on instalments,
-- which later loads may pay or correct, so they are derived at each run for
-- the judged third-party contacts only (queries/facts_scope.sql).
-- Contacts are append-only (an event never changes), so a stored row stays
-- true for as long as its loan's basis (table facts_loans) does. The
-- contact's row id lets the text rules read the text of the judged contacts
-- alone (queries/texts_kept.sql checks it still names the same event).
-- Contacts with a row id up to $after_rowid have facts already, but for
-- those of the loans in _stale_loans when $stale (-1: any may lack them;
-- audit/facts_store.py says when the row ids can be trusted). The caller
-- orders the rows by local date, so that a date range skips row groups.
-- Parameters: $after_rowid, $stale (the zone comes from facts_loans)
SELECT c.event_id, c.loan_id, c.ts, c.channel, c.recipient_type, c.recipient_id, c.agent_id, c.outcome,
       z.borrower_id, z.principal, z.zone,
       c.ts AT TIME ZONE z.zone AS local_ts,
       CAST(c.ts AT TIME ZONE z.zone AS DATE) AS local_date,
       epoch_us(c.ts) AS ts_us,
       date_diff('day', DATE '1970-01-01', CAST(c.ts AT TIME ZONE z.zone AS DATE)) AS local_day,
       CASE WHEN c.recipient_type = 'borrower' THEN z.borrower_id ELSE c.recipient_id END AS recipient_key,
       c.recipient_type IN ('emergency_contact', 'third_party') AS is_third_party,
       c.contact_rowid,
       c.has_content
FROM (
    -- the two sets are scanned apart, so that each filter on the row id can skip row groups
    SELECT event_id, loan_id, ts, channel, recipient_type, recipient_id, agent_id, outcome,
           rowid AS contact_rowid, content IS NOT NULL AS has_content
    FROM contacts
    WHERE rowid > $after_rowid
      -- the test on $after_rowid sits inside the subquery, where the planner drops the scan it guards
      AND NOT EXISTS (SELECT 1 FROM contact_facts f WHERE $after_rowid < 0 AND f.event_id = contacts.event_id)
    UNION ALL
    SELECT event_id, loan_id, ts, channel, recipient_type, recipient_id, agent_id, outcome,
           rowid AS contact_rowid, content IS NOT NULL AS has_content
    FROM contacts
    WHERE $stale AND rowid <= $after_rowid AND loan_id IN (SELECT loan_id FROM _stale_loans)
) c
JOIN facts_loans z ON z.loan_id = c.loan_id
