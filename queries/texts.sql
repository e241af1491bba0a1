-- The judged contacts that carry message text, with what the text rules
-- compare it against: the borrower's identifiers, the overdue amount and the
-- principal. The text rules themselves run in Polars (audit/text_rules.py).
SELECT f.event_id, f.channel, f.is_third_party, f.local_date, f.overdue_amount, f.principal,
       f.content, b.id_number, b.bank_card, b.phone, b.address
FROM facts f
LEFT JOIN borrowers b ON b.borrower_id = f.borrower_id
WHERE f.judged AND f.content IS NOT NULL
