-- The rows of the history before a nightly run's window that a rule may read
-- (audit/facts_prior.py keeps them in facts_prior_rows), out of the facts of
-- the contacts with local date in [$from, $to) and row id above $after_rowid:
--   do_not_contact  per recipient, the first request by time and the first
--                   by local date (DNC reads the minimum of each)
--   calls           per loan, its $calls most recent borrower calls
--                   (TP-REACHABLE reads the $calls calls before a contact)
--   reminders       per loan and escalation step, its at_least most recent
--                   reminders (TP-ESCALATION counts those after an episode
--                   start: a loan's contacts share one zone, so the ones
--                   after a start are its most recent, and at_least of them
--                   meet the step whatever came before)
-- Taken over any superset of the true ones, each still picks the same rows,
-- so the kept set may hold rows a later slice superseded; compaction reads it
-- again through this query ({source} = facts_prior_rows).
-- Parameters: $from, $to (DATE), $after_rowid, $calls; table p_escalation (as in tp_escalation.sql)
WITH slice AS (
    SELECT * FROM {source}
    WHERE local_date >= $from AND local_date < $to AND contact_rowid > $after_rowid
),
requests AS (
    SELECT event_id, recipient_key, ts_us, local_date FROM slice
    WHERE outcome = 'do_not_contact' AND recipient_key IS NOT NULL
),
keep AS (
    SELECT event_id FROM requests
    QUALIFY row_number() OVER (PARTITION BY recipient_key ORDER BY ts_us, event_id) = 1
    UNION
    SELECT event_id FROM requests
    QUALIFY row_number() OVER (PARTITION BY recipient_key ORDER BY local_date, ts_us, event_id) = 1
    UNION
    SELECT event_id FROM slice
    WHERE recipient_type = 'borrower' AND channel = 'call'
    QUALIFY row_number() OVER (PARTITION BY loan_id ORDER BY ts_us DESC, event_id DESC) <= $calls
    UNION
    SELECT f.event_id
    FROM slice f
    JOIN p_escalation s ON s.channel = f.channel
    WHERE f.recipient_type = 'borrower'
      AND CASE WHEN s.outcomes IS NULL THEN coalesce(f.outcome, '') <> 'failed'
               ELSE list_contains(s.outcomes, f.outcome) END
    QUALIFY row_number() OVER (PARTITION BY f.loan_id, s.step_no ORDER BY f.ts_us DESC, f.event_id DESC) <= s.at_least
)
SELECT * FROM slice WHERE event_id IN (SELECT event_id FROM keep)
