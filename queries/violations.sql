-- The report rows: each raw violation (rule_id, event_id, detail, evidence)
-- with the contact's facts, the rule's severity and reference, sorted by
-- (ts, event_id, rule_id). ts is UTC with Z; local_time carries its offset.
-- Parameters: $policy_id, $policy_version; tables raw_violations, p_rule_meta
WITH located AS (
    SELECT v.rule_id, v.event_id, v.detail, v.evidence,
           f.loan_id, f.borrower_id, f.ts, f.ts_us, f.local_ts, f.channel, f.recipient_type,
           f.recipient_id, f.agent_id,
           f.ts AT TIME ZONE 'UTC' AS utc_ts,
           date_diff('minute', f.ts AT TIME ZONE 'UTC', f.local_ts) AS offset_min,
           CASE WHEN f.ts_us % 1000000 = 0 THEN ''
                ELSE '.' || lpad(CAST(f.ts_us % 1000000 AS VARCHAR), 6, '0') END AS fraction
    FROM raw_violations v
    JOIN facts f ON f.event_id = v.event_id
)
SELECT l.rule_id,
       m.severity,
       l.event_id,
       l.loan_id,
       l.borrower_id,
       strftime(l.utc_ts, '%Y-%m-%d') || 'T' || strftime(l.utc_ts, '%H:%M:%S') || l.fraction || 'Z' AS ts,
       strftime(l.local_ts, '%Y-%m-%d') || 'T' || strftime(l.local_ts, '%H:%M:%S') || l.fraction
         || CASE WHEN l.offset_min < 0 THEN '-' ELSE '+' END
         || lpad(CAST(abs(l.offset_min) // 60 AS VARCHAR), 2, '0') || ':'
         || lpad(CAST(abs(l.offset_min) % 60 AS VARCHAR), 2, '0') AS local_time,
       l.channel,
       l.recipient_type,
       l.recipient_id,
       l.agent_id,
       coalesce(m.reference, '') AS reference,
       l.detail,
       l.evidence,
       $policy_id AS policy_id,
       $policy_version AS policy_version
FROM located l
JOIN p_rule_meta m ON m.rule_id = l.rule_id
ORDER BY l.ts_us, l.event_id, l.rule_id
