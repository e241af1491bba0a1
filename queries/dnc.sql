-- DNC: a contact to a recipient (the borrower for a borrower contact, else
-- recipient_id) after an earlier contact to that recipient ended with the
-- outcome do_not_contact.
-- Parameters: $recipient_types (VARCHAR[] or NULL = all)
WITH first_request AS (
    SELECT recipient_key, min(ts_us) AS request_us, min(local_date) AS request_date
    FROM facts
    WHERE outcome = 'do_not_contact' AND recipient_key IS NOT NULL
    GROUP BY recipient_key
)
SELECT f.event_id,
       'recipient asked not to be contacted on ' || CAST(r.request_date AS VARCHAR) AS detail
FROM facts f
JOIN first_request r ON r.recipient_key = f.recipient_key
WHERE f.judged
  AND f.ts_us > r.request_us
  AND ($recipient_types IS NULL OR list_contains($recipient_types, f.recipient_type))
