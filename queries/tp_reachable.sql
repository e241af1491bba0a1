-- TP-REACHABLE: a third-party contact (DPD >= 1) is allowed only when the
-- borrower is unreachable: the N most recent borrower calls of the loan
-- before it exist, all fall after the episode start E, and none connected.
-- Parameters: $n
WITH third_party_contacts AS (
    SELECT event_id, loan_id, ts_us, episode_start
    FROM facts WHERE is_third_party AND dpd >= 1 AND judged
),
borrower_calls AS (
    SELECT event_id, loan_id, ts_us, local_date, outcome
    FROM facts WHERE channel = 'call' AND recipient_type = 'borrower'
),
recent_calls AS (
    SELECT t.event_id, t.episode_start, c.local_date, c.outcome,
           row_number() OVER (PARTITION BY t.event_id ORDER BY c.ts_us DESC, c.event_id DESC) AS recency
    FROM third_party_contacts t
    JOIN borrower_calls c ON c.loan_id = t.loan_id AND c.ts_us < t.ts_us
),
last_calls AS (
    SELECT event_id,
           count(*) AS calls,
           count(*) FILTER (WHERE local_date > episode_start) AS in_episode,
           count(*) FILTER (WHERE outcome = 'connected') AS connected
    FROM recent_calls
    WHERE recency <= $n
    GROUP BY event_id
)
SELECT t.event_id,
       CASE WHEN coalesce(l.calls, 0) < $n THEN 'only ' || coalesce(l.calls, 0) || ' borrower calls before it (' || $n || ' failed calls required)'
            WHEN l.connected > 0 THEN l.connected || ' of the last ' || $n || ' borrower calls connected'
            ELSE (l.calls - l.in_episode) || ' of the last ' || $n || ' borrower calls precede the episode start ' || CAST(t.episode_start AS VARCHAR)
       END AS detail
FROM third_party_contacts t
LEFT JOIN last_calls l ON l.event_id = t.event_id
WHERE coalesce(l.calls, 0) < $n OR l.connected > 0 OR l.in_episode < $n
