-- TP-UNREGISTERED: a contact with someone the borrower did not register:
-- every third_party contact, and an emergency_contact whose recipient_id is
-- not among the borrower's emergency contacts. When the store holds no
-- emergency contacts at all, the second half cannot be judged ($judge_emergency false).
-- Parameters: $judge_emergency
SELECT f.event_id,
       CASE WHEN f.recipient_type = 'third_party'
            THEN 'contact with a third party who is not a registered emergency contact'
            ELSE 'emergency contact ' || f.recipient_id || ' is not registered by borrower ' || f.borrower_id
       END AS detail
FROM facts f
WHERE f.judged
  AND (f.recipient_type = 'third_party'
       OR (f.recipient_type = 'emergency_contact'
           AND $judge_emergency
           AND NOT EXISTS (SELECT 1 FROM emergency_contacts e
                           WHERE e.borrower_id = f.borrower_id AND e.contact_id = f.recipient_id)))
