-- The run's facts table from the stored facts (contact_facts, kept up to date
-- by audit/facts_store.py): the same rows and columns as queries/facts.sql
-- derives from the contacts, without converting a single time again.
--   judged          the contact's local date is in the --since/--until window
-- With --since/--until, the scope is the full history of every loan and every
-- recipient with a judged contact (as in facts.sql). DPD, overdue amount and
-- episode are derived here, for the judged third-party contacts only, from
-- the instalments as they are now: a late payment is never read stale.
-- Parameters: $since, $until (DATE or NULL)
WITH judged_window AS (
    SELECT loan_id, recipient_key
    FROM contact_facts
    WHERE ($since IS NOT NULL OR $until IS NOT NULL)
      AND ($since IS NULL OR local_date >= $since)
      AND ($until IS NULL OR local_date <= $until)
),
scope_loans AS (
    -- the judged loans, and every loan of a borrower contacted as a recipient
    SELECT loan_id FROM judged_window
    UNION
    SELECT z.loan_id FROM facts_loans z WHERE z.borrower_id IN (SELECT recipient_key FROM judged_window)
),
contact_local AS (
    SELECT f.event_id, f.loan_id, f.ts, f.channel, f.recipient_type, f.recipient_id, f.agent_id, f.outcome,
           f.borrower_id, f.principal, f.zone, f.local_ts,
           (($since IS NULL OR f.local_date >= $since) AND ($until IS NULL OR f.local_date <= $until)) AS judged,
           f.local_date, f.ts_us, f.local_day, f.recipient_key, f.is_third_party
    FROM contact_facts f
    WHERE ($since IS NULL AND $until IS NULL)
       OR f.loan_id IN (SELECT loan_id FROM scope_loans)
       OR f.recipient_id IN (SELECT recipient_key FROM judged_window)
),
overdue_at_contact AS (
    SELECT c.event_id,
           min(i.due_date) AS oldest_due,
           sum(i.amount_due) AS overdue_amount
    FROM contact_local c
    JOIN installments i
      ON c.judged AND c.is_third_party
     AND i.loan_id = c.loan_id
     AND i.due_date < c.local_date
     AND (i.paid_at IS NULL OR i.paid_at > c.ts)
    GROUP BY c.event_id
)
SELECT c.event_id, c.loan_id, c.ts, c.channel, c.recipient_type, c.recipient_id, c.agent_id, c.outcome,
       c.borrower_id, c.principal, c.zone, c.local_ts, c.judged,
       c.local_date, c.ts_us, c.local_day, c.recipient_key, c.is_third_party,
       CASE WHEN c.judged AND c.is_third_party
            THEN coalesce(date_diff('day', o.oldest_due, c.local_date), 0) END AS dpd,
       CASE WHEN c.judged AND c.is_third_party THEN coalesce(o.overdue_amount, 0) END AS overdue_amount,
       o.oldest_due AS episode_start
FROM contact_local c
LEFT JOIN overdue_at_contact o ON o.event_id = c.event_id
