-- HOURS: a contact whose local time is outside [start, end). A window with
-- start > end runs over midnight (e.g. 20:00-06:00).
-- Parameters: $start, $end (TIME), $channels (VARCHAR[] or NULL = all)
WITH contact_time AS (
    SELECT event_id, local_ts, CAST(local_ts AS TIME) AS local_clock
    FROM facts
    WHERE judged AND ($channels IS NULL OR list_contains($channels, channel))
)
SELECT event_id,
       'local time ' || strftime(local_ts, '%H:%M:%S') || ' outside the allowed hours '
       || substr(CAST($start AS VARCHAR), 1, 5) || '-' || substr(CAST($end AS VARCHAR), 1, 5) AS detail
FROM contact_time
WHERE CASE WHEN $start < $end THEN local_clock < $start OR local_clock >= $end
           ELSE local_clock < $start AND local_clock >= $end END
