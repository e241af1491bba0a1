-- TP-ESCALATION: a third-party contact (DPD >= 1) before the borrower got the
-- reminders the policy requires in this episode. For each step, count the
-- borrower contacts of the same loan on the step's channel, with an outcome in
-- the step's list (default: anything but 'failed', empty included), local
-- date after the episode start E, and ts before the contact.
-- Parameters: table p_escalation(step_no, channel, at_least, outcomes VARCHAR[] or NULL)
WITH third_party_contacts AS (
    SELECT event_id, loan_id, ts_us, episode_start
    FROM facts WHERE is_third_party AND dpd >= 1 AND judged
),
borrower_reminders AS (
    SELECT loan_id, ts_us, local_date, channel, outcome
    FROM facts WHERE recipient_type = 'borrower'
),
episode_reminders AS (
    SELECT t.event_id, s.step_no, s.channel, s.at_least, count(r.ts_us) AS reminders
    FROM third_party_contacts t
    CROSS JOIN p_escalation s
    LEFT JOIN borrower_reminders r
      ON r.loan_id = t.loan_id
     AND r.channel = s.channel
     AND r.ts_us < t.ts_us
     AND r.local_date > t.episode_start
     AND CASE WHEN s.outcomes IS NULL THEN coalesce(r.outcome, '') <> 'failed'
              ELSE list_contains(s.outcomes, r.outcome) END
    GROUP BY t.event_id, s.step_no, s.channel, s.at_least
)
SELECT event_id,
       'reminders short of the escalation: '
       || string_agg(channel || ' ' || reminders || ' < ' || at_least, ', ' ORDER BY step_no) AS detail
FROM episode_reminders
WHERE reminders < at_least
GROUP BY event_id
