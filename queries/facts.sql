-- Derived facts (SPEC §2): one row per stored contact, computed once and
-- shared by every rule.
--   zone            the borrower's timezone, else the policy's default
--   local_ts/date   ts seen in that zone
--   dpd             days past due at ts: the oldest instalment due before the
--                   local date and not paid by ts
--   overdue_amount  the sum due of those instalments
--   episode_start   local date - dpd (undefined when dpd = 0)
--   judged          the contact falls in the --since/--until window
-- Parameters: $default_timezone, $since, $until (DATE or NULL)
WITH contact_zone AS (
    SELECT c.*,
           l.borrower_id,
           l.principal,
           coalesce(b.timezone, $default_timezone) AS zone
    FROM contacts c
    JOIN loans l ON l.loan_id = c.loan_id
    LEFT JOIN borrowers b ON b.borrower_id = l.borrower_id
),
contact_local AS (
    SELECT *,
           ts AT TIME ZONE zone AS local_ts,
           CAST(ts AT TIME ZONE zone AS DATE) AS local_date
    FROM contact_zone
),
overdue_at_contact AS (
    SELECT c.event_id,
           max(date_diff('day', i.due_date, c.local_date)) AS dpd,
           sum(i.amount_due) AS overdue_amount
    FROM contact_local c
    JOIN installments i
      ON i.loan_id = c.loan_id
     AND i.due_date < c.local_date
     AND (i.paid_at IS NULL OR i.paid_at > c.ts)
    GROUP BY c.event_id
)
SELECT c.*,
       epoch_us(c.ts) AS ts_us,
       date_diff('day', DATE '1970-01-01', c.local_date) AS local_day,
       CASE WHEN c.recipient_type = 'borrower' THEN c.borrower_id ELSE c.recipient_id END AS recipient_key,
       c.recipient_type IN ('emergency_contact', 'third_party') AS is_third_party,
       coalesce(o.dpd, 0) AS dpd,
       coalesce(o.overdue_amount, 0) AS overdue_amount,
       CASE WHEN o.dpd IS NOT NULL THEN c.local_date - CAST(o.dpd AS INTEGER) END AS episode_start,
       (($since IS NULL OR c.local_date >= $since) AND ($until IS NULL OR c.local_date <= $until)) AS judged
FROM contact_local c
LEFT JOIN overdue_at_contact o ON o.event_id = c.event_id
