-- Derived facts (SPEC §2): one row per contact in scope, computed once and
-- shared by every rule.
--   zone            the borrower's timezone, else the policy's default
--   local_ts/date   ts seen in that zone
--   dpd             days past due at ts: the oldest instalment due before the
--                   local date and not paid by ts
--   overdue_amount  the sum due of those instalments
--   episode_start   local date - dpd (undefined when dpd = 0)
--   judged          the contact falls in the --since/--until window
-- With --since/--until, the scope is the full history of every loan and every
-- recipient with a judged contact: all that any rule looks at to judge it.
-- Without them it is every contact. DPD, overdue amount and episode are
-- derived for judged third-party contacts only (the rules read them for no
-- other contact), and message text stays in `contacts`.
-- Parameters: $default_timezone, $since, $until (DATE or NULL)
WITH loan_zone AS (
    SELECT l.loan_id, l.borrower_id, l.principal, coalesce(b.timezone, $default_timezone) AS zone
    FROM loans l
    LEFT JOIN borrowers b ON b.borrower_id = l.borrower_id
),
judged_window AS (
    -- local dates are within a day of UTC dates, so the ts bounds only prune
    SELECT c.loan_id, z.borrower_id,
           CASE WHEN c.recipient_type = 'borrower' THEN z.borrower_id ELSE c.recipient_id END AS recipient_key
    FROM contacts c
    JOIN loan_zone z ON z.loan_id = c.loan_id
    WHERE ($since IS NOT NULL OR $until IS NOT NULL)
      AND ($since IS NULL OR (c.ts >= CAST(CAST($since AS DATE) - INTERVAL 1 DAY AS TIMESTAMP)
                              AND CAST(c.ts AT TIME ZONE z.zone AS DATE) >= $since))
      AND ($until IS NULL OR (c.ts < CAST(CAST($until AS DATE) + INTERVAL 2 DAY AS TIMESTAMP)
                              AND CAST(c.ts AT TIME ZONE z.zone AS DATE) <= $until))
),
scope_loans AS (
    -- the judged loans, and every loan of a borrower contacted as a recipient
    SELECT loan_id FROM judged_window
    UNION
    SELECT z.loan_id FROM loan_zone z WHERE z.borrower_id IN (SELECT recipient_key FROM judged_window)
),
contact_local AS NOT MATERIALIZED (
    SELECT c.event_id, c.loan_id, c.ts, c.channel, c.recipient_type, c.recipient_id, c.agent_id, c.outcome,
           z.borrower_id, z.principal, z.zone,
           c.ts AT TIME ZONE z.zone AS local_ts,
           (($since IS NULL OR CAST(c.ts AT TIME ZONE z.zone AS DATE) >= $since)
            AND ($until IS NULL OR CAST(c.ts AT TIME ZONE z.zone AS DATE) <= $until)) AS judged
    FROM contacts c
    JOIN loan_zone z ON z.loan_id = c.loan_id
    WHERE ($since IS NULL AND $until IS NULL)
       OR c.loan_id IN (SELECT loan_id FROM scope_loans)
       OR c.recipient_id IN (SELECT recipient_key FROM judged_window)
),
overdue_at_contact AS (
    SELECT c.event_id,
           min(i.due_date) AS oldest_due,
           sum(i.amount_due) AS overdue_amount
    FROM contact_local c
    JOIN installments i
      ON c.judged AND c.recipient_type IN ('emergency_contact', 'third_party')
     AND i.loan_id = c.loan_id
     AND i.due_date < CAST(c.local_ts AS DATE)
     AND (i.paid_at IS NULL OR i.paid_at > c.ts)
    GROUP BY c.event_id
)
SELECT c.*,
       CAST(c.local_ts AS DATE) AS local_date,
       epoch_us(c.ts) AS ts_us,
       date_diff('day', DATE '1970-01-01', CAST(c.local_ts AS DATE)) AS local_day,
       CASE WHEN c.recipient_type = 'borrower' THEN c.borrower_id ELSE c.recipient_id END AS recipient_key,
       c.recipient_type IN ('emergency_contact', 'third_party') AS is_third_party,
       CASE WHEN c.judged AND c.recipient_type IN ('emergency_contact', 'third_party')
            THEN coalesce(date_diff('day', o.oldest_due, CAST(c.local_ts AS DATE)), 0) END AS dpd,
       CASE WHEN c.judged AND c.recipient_type IN ('emergency_contact', 'third_party')
            THEN coalesce(o.overdue_amount, 0) END AS overdue_amount,
       o.oldest_due AS episode_start
FROM contact_local c
LEFT JOIN overdue_at_contact o ON o.event_id = c.event_id
