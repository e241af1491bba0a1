-- The run's facts table from the stored facts (contact_facts, kept up to date
-- by audit/facts_store.py): the rows and columns that queries/facts.sql
-- derives from the contacts, for what the rules read.
--   judged          the contact's local date is in the --since/--until window
-- With --since/--until, the scope is the history of every loan and every
-- recipient with a judged contact (as in facts.sql), and of that history
-- only what a rule can read to judge a contact of the window:
--   recent          every contact from $recent_from on: the day, 168-hour,
--                   7-local-day and quiet-period windows lie within it
--                   (audit/facts_store.py sets it some days before --since)
-- and before it, out of the rows kept for it (facts_prior_rows, kept by
-- audit/facts_prior.py for exactly the contacts before $recent_from):
--   do_not_contact  the recipient's first requests (DNC: the first, ever)
--   episodes        for each loan with a judged third-party contact in an
--                   episode: per escalation step, its at_least most recent
--                   reminders after the earliest such episode start
--                   (TP-ESCALATION), and its $calls most recent borrower
--                   calls (TP-REACHABLE reads the $calls calls before a
--                   contact; a suffix of each loan's calls keeps their order)
-- The whole-history frequency limits add the kept counts of the contacts
-- before $recent_from (table prior_counts) to their own: those contacts are
-- not rows here. A rule reads differences of running counts or whole groups,
-- so leaving out older rows no rule reads changes no verdict
-- (tests/test_nightly.py and tests/test_slices.py compare with facts.sql over
-- everything).
-- Beside facts.sql's columns: contact_rowid and has_content, for the text
-- rules (queries/texts_kept.sql).
-- DPD, overdue amount and episode are derived here, for the judged
-- third-party contacts only, from the instalments as they are now: a late
-- payment is never read stale.
-- Parameters: $since, $until (DATE or NULL), $recent_from (DATE; the earliest
--             date there is when the whole history is read), $calls, $use_prior (whether the kept rows
--             hold the history before $recent_from: false when it is read whole); table p_escalation
--             (as in tp_escalation.sql)
WITH judged_window AS MATERIALIZED (
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
           f.local_date, f.ts_us, f.local_day, f.recipient_key, f.is_third_party, f.contact_rowid, f.has_content
    FROM contact_facts f
    WHERE f.local_date >= $recent_from
      AND (($since IS NULL AND $until IS NULL)
           OR f.loan_id IN (SELECT loan_id FROM scope_loans)
           OR f.recipient_id IN (SELECT recipient_key FROM judged_window))
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
),
recent AS MATERIALIZED (
    SELECT c.event_id, c.loan_id, c.ts, c.channel, c.recipient_type, c.recipient_id, c.agent_id, c.outcome,
           c.borrower_id, c.principal, c.zone, c.local_ts, c.judged,
           c.local_date, c.ts_us, c.local_day, c.recipient_key, c.is_third_party,
           CASE WHEN c.judged AND c.is_third_party
                THEN coalesce(date_diff('day', o.oldest_due, c.local_date), 0) END AS dpd,
           CASE WHEN c.judged AND c.is_third_party THEN coalesce(o.overdue_amount, 0) END AS overdue_amount,
           o.oldest_due AS episode_start, c.contact_rowid, c.has_content
    FROM contact_local c
    LEFT JOIN overdue_at_contact o ON o.event_id = c.event_id
),
episodes AS MATERIALIZED (
    SELECT loan_id, min(episode_start) AS first_start
    FROM recent
    WHERE judged AND is_third_party AND dpd >= 1
    GROUP BY loan_id
),
older AS MATERIALIZED (
    -- what a rule may read before $recent_from, of the scope's loans and recipients
    SELECT f.*
    FROM facts_prior_rows f
    WHERE $use_prior
      AND (f.outcome = 'do_not_contact' OR f.loan_id IN (SELECT loan_id FROM episodes))
      AND (f.loan_id IN (SELECT loan_id FROM scope_loans)
           OR f.recipient_id IN (SELECT recipient_key FROM judged_window))
),
old_calls AS (
    -- the loan's $calls most recent borrower calls before $recent_from: with every later call,
    -- a suffix of its calls that holds the $calls calls before any judged contact
    SELECT f.event_id
    FROM older f
    WHERE f.recipient_type = 'borrower' AND f.channel = 'call' AND f.loan_id IN (SELECT loan_id FROM episodes)
    QUALIFY row_number() OVER (PARTITION BY f.loan_id ORDER BY f.ts_us DESC, f.event_id DESC) <= $calls
),
old_reminders AS (
    -- per loan and escalation step, the at_least most recent reminders after the earliest episode
    -- start: a step with at least that many after a contact's episode start is met whatever the
    -- rest, and one with fewer has them all here, so every count TP-ESCALATION reports is exact
    SELECT f.event_id
    FROM older f
    JOIN episodes e ON e.loan_id = f.loan_id AND f.local_date > e.first_start
    JOIN p_escalation s ON s.channel = f.channel
    WHERE f.recipient_type = 'borrower'
      AND CASE WHEN s.outcomes IS NULL THEN coalesce(f.outcome, '') <> 'failed'
               ELSE list_contains(s.outcomes, f.outcome) END
    QUALIFY row_number() OVER (PARTITION BY f.loan_id, s.step_no ORDER BY f.ts_us DESC, f.event_id DESC) <= s.at_least
),
read_before AS (
    SELECT f.*
    FROM older f
    WHERE f.outcome = 'do_not_contact'
       OR f.event_id IN (SELECT event_id FROM old_calls)
       OR f.event_id IN (SELECT event_id FROM old_reminders)
)
SELECT * FROM recent
UNION ALL
SELECT f.event_id, f.loan_id, f.ts, f.channel, f.recipient_type, f.recipient_id, f.agent_id, f.outcome,
       f.borrower_id, f.principal, f.zone, f.local_ts, false AS judged,
       f.local_date, f.ts_us, f.local_day, f.recipient_key, f.is_third_party,
       CAST(NULL AS BIGINT) AS dpd, CAST(NULL AS DECIMAL(38, 2)) AS overdue_amount, CAST(NULL AS DATE) AS episode_start,
       f.contact_rowid, f.has_content
FROM read_before f
