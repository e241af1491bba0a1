-- Frequency limits: among the matching contacts of a group (the loan, or the
-- recipient: the borrower for a borrower contact, else recipient_id), ordered
-- by (ts, event_id), a contact is flagged when the contacts of its window
-- that sort at or before it, itself included, number more than $max:
--   day     same local date
--   7d      ts in (t - 168 h, t]
--   7_days  local date in [d - 6, d]
--   all     the whole history (with the contacts before the facts' rows that
--           a nightly run does not read as rows: their counts per group, kept
--           by audit/facts_prior.py, come in as table prior_counts)
-- Parameters: $recipient_types, $channels, $outcomes (VARCHAR[] or NULL = all),
--             $exclude_outcomes (VARCHAR[] or NULL = none: contacts with these
--             outcomes are neither counted nor flagged; an empty outcome counts),
--             $per ('loan' | 'recipient'), $window, $max, $rule_id (its row in prior_counts)
WITH matching AS (
    SELECT event_id, ts_us, local_date, local_day, zone, judged,
           CASE WHEN $per = 'loan' THEN loan_id ELSE recipient_key END AS grp
    FROM facts
    WHERE ($recipient_types IS NULL OR list_contains($recipient_types, recipient_type))
      AND ($channels IS NULL OR list_contains($channels, channel))
      AND ($outcomes IS NULL OR list_contains($outcomes, outcome))
      AND ($exclude_outcomes IS NULL OR outcome IS NULL OR NOT list_contains($exclude_outcomes, outcome))
),
prior AS (
    SELECT grp, n FROM prior_counts WHERE rule_id = $rule_id AND $window = 'all'
),
ranked AS (
    SELECT m.*,
           coalesce(p.n, 0) AS prior_n,
           row_number() OVER (PARTITION BY m.grp ORDER BY m.ts_us, m.event_id) AS sort_pos,
           min(m.zone) OVER (PARTITION BY m.grp) <> max(m.zone) OVER (PARTITION BY m.grp) AS spans_zones
    FROM matching m
    LEFT JOIN prior p ON p.grp IS NOT DISTINCT FROM m.grp
),
in_window AS (
    SELECT event_id, judged, local_date,
           CASE $window
               WHEN 'all' THEN sort_pos + prior_n
               WHEN 'day' THEN row_number() OVER (PARTITION BY grp, local_day ORDER BY ts_us, event_id)
               WHEN '7d' THEN sort_pos - count(*) OVER (
                   PARTITION BY grp ORDER BY ts_us
                   RANGE BETWEEN UNBOUNDED PRECEDING AND 604800000000 PRECEDING)
               -- local dates only rise with ts within one zone; a group that spans
               -- zones is counted exactly by the join below instead
               WHEN '7_days' THEN CASE WHEN NOT spans_zones THEN sort_pos - count(*) OVER (
                   PARTITION BY grp ORDER BY local_day
                   RANGE BETWEEN UNBOUNDED PRECEDING AND 7 PRECEDING) END
           END AS n
    FROM ranked
),
multi_zone_7_days AS (
    SELECT a.event_id, count(*) AS n
    FROM ranked a
    JOIN ranked b
      ON b.grp = a.grp
     AND b.local_day BETWEEN a.local_day - 6 AND a.local_day
     AND (b.ts_us < a.ts_us OR (b.ts_us = a.ts_us AND b.event_id <= a.event_id))
    WHERE $window = '7_days' AND a.spans_zones AND a.judged
    GROUP BY a.event_id
),
counted AS (
    SELECT w.event_id, w.local_date, coalesce(w.n, m.n) AS n
    FROM in_window w
    LEFT JOIN multi_zone_7_days m ON m.event_id = w.event_id
    WHERE w.judged
)
SELECT event_id,
       'contact no. ' || n || ' in the '
       || CASE $window WHEN 'day' THEN 'local day ' || CAST(local_date AS VARCHAR)
                       WHEN '7d' THEN '168 hours up to it'
                       WHEN '7_days' THEN '7 local days up to ' || CAST(local_date AS VARCHAR)
                       ELSE 'whole history' END
       || ' (max ' || $max || ')' AS detail
FROM counted
WHERE n > $max
