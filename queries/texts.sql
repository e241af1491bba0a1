-- The judged contacts that carry message text, with what the text rules
-- compare it against: the borrower's identifiers (for third-party contacts,
-- the only ones PII-THIRD-PARTY judges), the overdue amount and the
-- principal. The text rules themselves run in Polars (audit/text_rules.py).
SELECT f.event_id, f.channel, f.is_third_party, f.local_date, f.overdue_amount, f.principal,
       c.content, b.id_number, b.bank_card, b.phone, b.address
FROM facts f
JOIN contacts c ON c.event_id = f.event_id
LEFT JOIN borrowers b ON f.is_third_party AND b.borrower_id = f.borrower_id
WHERE f.judged AND c.content IS NOT NULL
