-- What the stored facts of a loan's contacts were derived from (audit/facts_store.py):
-- the loan's borrower and principal, and its zone (the borrower's timezone,
-- else the policy's default). When any of these changes, the loan's stored
-- facts are derived again.
-- Parameters: $default_timezone
SELECT l.loan_id, l.borrower_id, l.principal, coalesce(b.timezone, $default_timezone) AS zone
FROM loans l
LEFT JOIN borrowers b ON b.borrower_id = l.borrower_id
