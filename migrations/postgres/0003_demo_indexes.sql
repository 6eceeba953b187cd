-- Foreign keys the demo schema lacked indexes for: without them deleting a large
-- tenant's clients or products scans these tables once per row.
CREATE INDEX quotes_client ON quotes (client_id);
CREATE INDEX credits_client ON credits (client_id);
CREATE INDEX payments_client ON payments (client_id);
CREATE INDEX invoice_items_product ON invoice_items (product_id);
