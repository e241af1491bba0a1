-- TP-REACHABLE: a third-party contact (DPD >= 1) is allowed only when the
-- borrower is unreachable: the N most recent borrower calls of the loan
-- before it exist, all fall after the episode start E, and none connected.
-- Calls are numbered per loan in (ts, event_id) order; the calls before a
-- contact are a running count, and its N most recent calls are looked up by
-- number (p_recency holds 1..N), so no contact is paired with every call.
-- Parameters: $n; table p_recency(recency)
WITH third_party_contacts AS (
    SELECT event_id, loan_id, ts_us, episode_start
    FROM facts WHERE is_third_party AND dpd >= 1 AND judged
),
borrower_calls AS (
    SELECT loan_id, ts_us, local_date, outcome,
           row_number() OVER (PARTITION BY loan_id ORDER BY ts_us, event_id) AS call_no
    FROM facts
    WHERE channel = 'call' AND recipient_type = 'borrower'
      AND loan_id IN (SELECT loan_id FROM third_party_contacts)
),
call_timeline AS (
    SELECT loan_id, ts_us, 1 AS is_call, CAST(NULL AS VARCHAR) AS event_id FROM borrower_calls
    UNION ALL
    SELECT loan_id, ts_us, 0 AS is_call, event_id FROM third_party_contacts
),
calls_before AS (
    SELECT event_id, loan_id,
           coalesce(sum(is_call) OVER (
               PARTITION BY loan_id ORDER BY ts_us
               RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS calls
    FROM call_timeline
),
last_calls AS (
    SELECT b.event_id,
           count(*) AS calls,
           count(*) FILTER (WHERE c.local_date > t.episode_start) AS in_episode,
           count(*) FILTER (WHERE c.outcome = 'connected') AS connected
    FROM calls_before b
    JOIN third_party_contacts t ON t.event_id = b.event_id
    CROSS JOIN p_recency p
    JOIN borrower_calls c ON c.loan_id = b.loan_id AND c.call_no = b.calls - p.recency + 1
    WHERE b.event_id IS NOT NULL
    GROUP BY b.event_id
)
SELECT t.event_id,
       CASE WHEN coalesce(l.calls, 0) < $n THEN 'only ' || coalesce(l.calls, 0) || ' borrower calls before it (' || $n || ' failed calls required)'
            WHEN l.connected > 0 THEN l.connected || ' of the last ' || $n || ' borrower calls connected'
            ELSE (l.calls - l.in_episode) || ' of the last ' || $n || ' borrower calls precede the episode start ' || CAST(t.episode_start AS VARCHAR)
       END AS detail
FROM third_party_contacts t
LEFT JOIN last_calls l ON l.event_id = t.event_id
WHERE coalesce(l.calls, 0) < $n OR l.connected > 0 OR l.in_episode < $n
