-- QUIET-AFTER-CONVERSATION: a call to the borrower on a loan within $days
-- local days of an earlier connected call on that loan (the conversation day
-- is day 1: conversation on the 1st, calls to the 7th flagged for days = 7).
-- A call whose outcome is in $exclude_outcomes was not placed (Regulation F
-- 1006.14(b)(3)(ii): not connected to the dialed number) and is not flagged.
-- Parameters: $days, $exclude_outcomes (VARCHAR[] or NULL = none)
WITH borrower_calls AS (
    SELECT event_id, loan_id, ts_us, local_date, outcome, judged
    FROM facts WHERE channel = 'call' AND recipient_type = 'borrower'
),
last_conversation AS (
    SELECT *,
           max(CASE WHEN outcome = 'connected' THEN local_date END) OVER (
               PARTITION BY loan_id ORDER BY ts_us
               RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS conversation_date
    FROM borrower_calls
)
SELECT event_id,
       'call on day ' || (date_diff('day', conversation_date, local_date) + 1) || ' after a conversation on '
       || CAST(conversation_date AS VARCHAR) || ' (quiet for ' || $days || ' days)' AS detail
FROM last_conversation
WHERE judged AND conversation_date IS NOT NULL AND date_diff('day', conversation_date, local_date) <= $days - 1
  AND ($exclude_outcomes IS NULL OR outcome IS NULL OR NOT list_contains($exclude_outcomes, outcome))
