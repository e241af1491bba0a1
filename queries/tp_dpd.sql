-- TP-DPD: a third-party contact before the days-past-due threshold.
-- The threshold is min_days_past_due, or that of the amount tier with the
-- largest overdue_amount_at_least <= the overdue amount at the contact.
-- A positive threshold also flags third-party contacts while nothing is overdue.
-- Of tiers with equal thresholds the one listed last wins (docs/decisions.md): the
-- arg_max key is the threshold and then the tier's place in the list.
-- Parameters: $min_days_past_due; table p_amount_tiers(tier_no, overdue_amount_at_least, min_days_past_due)
WITH third_party_contacts AS (
    SELECT event_id, dpd, overdue_amount FROM facts WHERE is_third_party AND judged
),
matching_tier AS (
    SELECT t.event_id,
           arg_max(p.min_days_past_due,
                   CAST(p.overdue_amount_at_least AS DECIMAL(30, 2)) * 1000000 + p.tier_no) AS tier_days,
           max(p.overdue_amount_at_least) AS tier_threshold
    FROM third_party_contacts t
    JOIN p_amount_tiers p ON p.overdue_amount_at_least <= t.overdue_amount
    GROUP BY t.event_id
),
required AS (
    SELECT t.*, coalesce(m.tier_days, $min_days_past_due) AS required_dpd, m.tier_threshold
    FROM third_party_contacts t
    LEFT JOIN matching_tier m ON m.event_id = t.event_id
)
SELECT event_id,
       'DPD ' || dpd || ' < ' || required_dpd || ' required'
       || CASE WHEN tier_threshold IS NOT NULL
               THEN ' (overdue ' || CAST(overdue_amount AS VARCHAR) || ' >= tier ' || CAST(tier_threshold AS VARCHAR) || ')'
               ELSE '' END AS detail
FROM required
WHERE dpd < required_dpd
