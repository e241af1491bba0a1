-- HOURS: a contact whose local time is outside [start, end), or [start, end]
-- with $end_inclusive (exactly `end` allowed, any fraction of a second after
-- it not). A window with start > end runs over midnight (e.g. 20:00-06:00).
-- Times of day are compared as seconds since local midnight, plus whether
-- the instant has a fraction of a second (zone offsets are whole seconds).
-- Parameters: $start_s, $end_s (seconds), $end_inclusive, $window_text
--             ('08:00-22:00'), $channels (VARCHAR[] or NULL = all)
WITH contact_time AS (
    SELECT event_id, local_ts, hour(local_ts) * 3600 + minute(local_ts) * 60 + second(local_ts) AS local_clock,
           ((ts_us % 1000000) + 1000000) % 1000000 > 0 AS has_fraction
    FROM facts
    WHERE judged AND ($channels IS NULL OR list_contains($channels, channel))
),
judged_time AS (
    SELECT *,
           CASE WHEN $end_inclusive THEN local_clock > $end_s OR (local_clock = $end_s AND has_fraction)
                ELSE local_clock >= $end_s END AS at_or_after_end
    FROM contact_time
)
SELECT event_id,
       'local time ' || strftime(local_ts, '%H:%M:%S') || ' outside the allowed hours '
       || $window_text AS detail
FROM judged_time
WHERE CASE WHEN $start_s < $end_s THEN local_clock < $start_s OR at_or_after_end
           ELSE local_clock < $start_s AND at_or_after_end END
