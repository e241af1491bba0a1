-- The report rows: each raw violation (rule_id, event_id, detail, evidence)
-- with the contact's facts and the rule's severity and reference. The
-- instant comes as UTC microseconds, the local time as the zone's offset in
-- minutes at that instant; audit/engine.py writes them as ISO text and sorts
-- the rows by (ts, event_id, rule_id) (both cheaper in Polars than in SQL;
-- Spark's writer sorts its parts itself).
-- Parameters: tables raw_violations, p_rule_meta
SELECT v.rule_id,
       m.severity,
       v.event_id,
       f.loan_id,
       f.borrower_id,
       f.ts_us,
       date_diff('minute', f.ts AT TIME ZONE 'UTC', f.local_ts) AS offset_min,
       f.channel,
       f.recipient_type,
       f.recipient_id,
       f.agent_id,
       coalesce(m.reference, '') AS reference,
       v.detail,
       v.evidence
FROM raw_violations v
JOIN facts f ON f.event_id = v.event_id
JOIN p_rule_meta m ON m.rule_id = v.rule_id
