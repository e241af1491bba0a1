-- Per whole-history frequency limit and group (SPEC §4b: the loan, or the
-- recipient), how many of the facts ({source}: contact_facts, or a run's
-- facts) of the contacts with local date in [$from, $to) and row id above
-- $after_rowid the limit counts. A nightly run adds the kept sums
-- (audit/facts_prior.py) to its own running counts (queries/frequency.sql)
-- instead of reading the history again.
-- The limit's filters are tested once per kind of contact (recipient type,
-- channel, outcome: p_kinds, every kind the load lets in), as frequency.sql
-- applies them to a row.
-- Parameters: $from, $to (DATE), $after_rowid; tables p_all_windows(rule_id, per, recipient_types,
--             channels, outcomes, exclude_outcomes), p_kinds(recipient_type, channel, outcome)
WITH counted_kinds AS (
    SELECT w.rule_id, w.per, k.recipient_type, k.channel, coalesce(k.outcome, '') AS outcome
    FROM p_kinds k
    JOIN p_all_windows w
      ON (w.recipient_types IS NULL OR list_contains(w.recipient_types, k.recipient_type))
     AND (w.channels IS NULL OR list_contains(w.channels, k.channel))
     AND (w.outcomes IS NULL OR list_contains(w.outcomes, k.outcome))
     AND (w.exclude_outcomes IS NULL OR k.outcome IS NULL OR NOT list_contains(w.exclude_outcomes, k.outcome))
)
SELECT k.rule_id, CASE WHEN k.per = 'loan' THEN f.loan_id ELSE f.recipient_key END AS grp, count(*) AS n
FROM {source} f
JOIN counted_kinds k
  ON k.recipient_type = f.recipient_type AND k.channel = f.channel AND k.outcome = coalesce(f.outcome, '')
WHERE f.local_date >= $from AND f.local_date < $to AND f.contact_rowid > $after_rowid
GROUP BY ALL
