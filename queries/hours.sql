-- HOURS: a contact whose local time is outside [start, end). A window with
-- start > end runs over midnight (e.g. 20:00-06:00).
-- Times of day are compared as seconds since local midnight.
-- Parameters: $start_s, $end_s (seconds), $window_text ('08:00-22:00'),
--             $channels (VARCHAR[] or NULL = all)
WITH contact_time AS (
    SELECT event_id, local_ts, hour(local_ts) * 3600 + minute(local_ts) * 60 + second(local_ts) AS local_clock
    FROM facts
    WHERE judged AND ($channels IS NULL OR list_contains($channels, channel))
)
SELECT event_id,
       'local time ' || strftime(local_ts, '%H:%M:%S') || ' outside the allowed hours '
       || $window_text AS detail
FROM contact_time
WHERE CASE WHEN $start_s < $end_s THEN local_clock < $start_s OR local_clock >= $end_s
           ELSE local_clock < $start_s AND local_clock >= $end_s END
