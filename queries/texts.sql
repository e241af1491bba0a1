-- The judged contacts that carry message text, with what the text rules
-- compare it against: the borrower's identifiers (for third-party contacts,
-- the only ones PII-THIRD-PARTY judges; audit/text_rules.py prepares them
-- once per borrower), the overdue amount and the principal. The text rules
-- themselves run in Polars over these rows, read once in Arrow batches.
-- Judged contacts lie within a day of the window in UTC, so both halves read
-- only the contacts in those bounds (the row groups of other days are skipped).
-- Facts do not carry message text (every rule would pay to move it), and
-- joining them back to contacts by event_id costs more than reading the text
-- rules' few facts again: borrower messages need only the local date;
-- third-party ones, a few percent, are joined to their facts for the amount.
-- Parameters: $default_timezone, $since, $until (as in facts.sql)
WITH borrower_texts AS (
    SELECT c.event_id, c.channel, c.content, l.principal,
           CAST(c.ts AT TIME ZONE coalesce(b.timezone, $default_timezone) AS DATE) AS local_date
    FROM contacts c
    JOIN loans l ON l.loan_id = c.loan_id
    LEFT JOIN borrowers b ON b.borrower_id = l.borrower_id
    WHERE c.content IS NOT NULL AND c.recipient_type NOT IN ('emergency_contact', 'third_party')
      -- local dates are within a day of UTC dates, so these bounds only prune
      AND ($since IS NULL OR c.ts >= CAST(CAST($since AS DATE) - INTERVAL 1 DAY AS TIMESTAMP))
      AND ($until IS NULL OR c.ts < CAST(CAST($until AS DATE) + INTERVAL 2 DAY AS TIMESTAMP))
),
third_party_texts AS (
    SELECT event_id, content
    FROM contacts c
    WHERE content IS NOT NULL AND recipient_type IN ('emergency_contact', 'third_party')
      AND ($since IS NULL OR c.ts >= CAST(CAST($since AS DATE) - INTERVAL 1 DAY AS TIMESTAMP))
      AND ($until IS NULL OR c.ts < CAST(CAST($until AS DATE) + INTERVAL 2 DAY AS TIMESTAMP))
)
SELECT event_id, channel, false AS is_third_party, local_date, CAST(NULL AS DECIMAL(18, 2)) AS overdue_amount,
       principal, content, CAST(NULL AS VARCHAR) AS borrower_id, CAST(NULL AS VARCHAR) AS id_number,
       CAST(NULL AS VARCHAR) AS bank_card, CAST(NULL AS VARCHAR) AS phone, CAST(NULL AS VARCHAR) AS address
FROM borrower_texts
WHERE ($since IS NULL OR local_date >= $since) AND ($until IS NULL OR local_date <= $until)
UNION ALL
SELECT f.event_id, f.channel, true AS is_third_party, f.local_date, f.overdue_amount, f.principal,
       t.content, f.borrower_id, b.id_number, b.bank_card, b.phone, b.address
FROM facts f
JOIN third_party_texts t ON t.event_id = f.event_id
LEFT JOIN borrowers b ON b.borrower_id = f.borrower_id
WHERE f.judged AND f.is_third_party
