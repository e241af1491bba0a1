-- TP-ESCALATION: a third-party contact (DPD >= 1) before the borrower got the
-- reminders the policy requires in this episode. For each step, count the
-- borrower contacts of the same loan on the step's channel, with an outcome in
-- the step's list (default: anything but 'failed', empty included), local
-- date after the episode start E, and ts before the contact.
-- The count is a running count over each (loan, episode, step) in time order,
-- so each reminder is read once per episode rather than once per contact: a
-- cumulative sum whose ties put the contacts before the reminders of the same
-- instant (a reminder counts only when strictly before), which DuckDB streams
-- where a RANGE frame ending 1 PRECEDING built a segment tree.
-- Parameters: table p_escalation(step_no, channel, at_least, outcomes VARCHAR[] or NULL)
WITH third_party_contacts AS (
    SELECT event_id, loan_id, ts_us, episode_start
    FROM facts WHERE is_third_party AND dpd >= 1 AND judged
),
episodes AS (
    -- a reminder after an episode's last third-party contact counts for none of them
    SELECT loan_id, episode_start, max(ts_us) AS last_ts_us FROM third_party_contacts GROUP BY loan_id, episode_start
),
step_reminders AS (
    SELECT s.step_no, r.loan_id, r.ts_us, r.local_date
    FROM facts r
    JOIN p_escalation s ON s.channel = r.channel
    WHERE r.recipient_type = 'borrower'
      AND r.loan_id IN (SELECT loan_id FROM episodes)
      AND CASE WHEN s.outcomes IS NULL THEN coalesce(r.outcome, '') <> 'failed'
               ELSE list_contains(s.outcomes, r.outcome) END
),
episode_timeline AS (
    -- the step's reminders after E, and the third-party contacts of episode E
    SELECT e.loan_id, e.episode_start, r.step_no, r.ts_us, 1 AS is_reminder, CAST(NULL AS VARCHAR) AS event_id
    FROM episodes e
    JOIN step_reminders r ON r.loan_id = e.loan_id AND r.local_date > e.episode_start AND r.ts_us < e.last_ts_us
    UNION ALL
    SELECT t.loan_id, t.episode_start, s.step_no, t.ts_us, 0 AS is_reminder, t.event_id
    FROM third_party_contacts t
    CROSS JOIN p_escalation s
),
episode_reminders AS (
    SELECT event_id, step_no,
           coalesce(sum(is_reminder) OVER (
               PARTITION BY loan_id, episode_start, step_no ORDER BY ts_us, is_reminder
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), 0) AS reminders
    FROM episode_timeline
)
SELECT r.event_id,
       'reminders short of the escalation: '
       || string_agg(s.channel || ' ' || r.reminders || ' < ' || s.at_least, ', ' ORDER BY s.step_no) AS detail
FROM episode_reminders r
JOIN p_escalation s ON s.step_no = r.step_no
WHERE r.event_id IS NOT NULL AND r.reminders < s.at_least
GROUP BY r.event_id
