-- A small Invoice Ninja data set for schema.sql: two companies, a few clients,
-- invoices in every status (one deleted, one archived, one of a deleted client, one from
-- last year), and payments applied to invoices through paymentables. Company 1
-- (company_key 'acme-key') is the one the tests render, company 2 ('globex-key') is there
-- to prove that another company's rows never show up. Dates assume :today = 2026-06-30.

-- Reference rows, with the ids Invoice Ninja's seeders give them.
INSERT INTO timezones (id, name) VALUES
  (15, 'America/New_York'),
  (37, 'Europe/Berlin');

INSERT INTO currencies (id, name, code) VALUES
  (1, 'US Dollar', 'USD'),
  (2, 'British Pound', 'GBP'),
  (3, 'Euro', 'EUR');

INSERT INTO payment_types (id, name) VALUES
  (1, 'Bank Transfer'),
  (2, 'Cash'),
  (15, 'Check');

INSERT INTO companies (id, company_key, settings, created_at, updated_at) VALUES
  (1, 'acme-key', '{"currency_id":"1","timezone_id":"15","name":"Acme Books"}', '2025-11-01 09:00:00', '2025-11-01 09:00:00'),
  (2, 'globex-key', '{"currency_id":"3","timezone_id":"37","name":"Globex"}', '2025-11-02 09:00:00', '2025-11-02 09:00:00');

-- Clients of a group take the group's currency unless they set their own.
INSERT INTO group_settings (id, company_id, name, settings) VALUES
  (1, 1, 'UK clients', '{"currency_id":"2"}');

-- Client 1 sets no currency (the company's USD), client 2 takes GBP from its group,
-- client 3 sets EUR itself, client 4 is deleted, client 5 belongs to company 2.
-- balance and paid_to_date are the totals Invoice Ninja keeps for each client.
INSERT INTO clients (id, company_id, name, balance, paid_to_date, credit_balance, settings, is_deleted, group_settings_id, number, created_at, updated_at, deleted_at) VALUES
  (1, 1, 'Acme Retail', 300.000000, 1200.000000, 0.000000, '{"currency_id":""}', 0, NULL, '0001', '2025-11-05 10:00:00', '2026-05-10 10:00:00', NULL),
  (2, 1, 'Bluebird Ltd', 750.500000, 100.000000, 0.000000, '{"currency_id":""}', 0, 1, '0002', '2025-11-06 10:00:00', '2026-05-16 10:00:00', NULL),
  (3, 1, 'Copperfield & Sons', 400.000000, 40.000000, 0.000000, '{"currency_id":"3"}', 0, NULL, '0003', '2025-11-07 10:00:00', '2026-06-15 10:00:00', NULL),
  (4, 1, 'Driftwood Co', 90.000000, 0.000000, 0.000000, '{"currency_id":"1"}', 1, NULL, '0004', '2025-11-08 10:00:00', '2026-04-01 10:00:00', '2026-04-01 10:00:00'),
  (5, 2, 'Zeta GmbH', 0.000000, 999.000000, 0.000000, '{"currency_id":"3"}', 0, NULL, '0001', '2025-11-09 10:00:00', '2026-02-05 10:00:00', NULL);

-- status_id: 1 draft, 2 sent, 3 partial, 4 paid, 5 cancelled.
-- Invoice 6 was deleted (is_deleted, renamed the way Invoice Ninja renames it), invoice 8
-- is only archived (deleted_at without is_deleted), invoice 9 belongs to the deleted
-- client, invoice 7 was issued last year, invoice 10 is company 2's.
INSERT INTO invoices (id, client_id, company_id, status_id, number, po_number, date, due_date, is_deleted, amount, balance, paid_to_date, created_at, updated_at, deleted_at) VALUES
  (1, 1, 1, 4, 'INV-0001', 'PO-77', '2026-01-15', '2026-02-14 00:00:00', 0, 1000.000000, 0.000000, 1000.000000, '2026-01-15 09:00:00', '2026-02-28 09:00:00', NULL),
  (2, 1, 1, 3, 'INV-0002', NULL, '2026-02-10', '2026-03-12 00:00:00', 0, 500.000000, 300.000000, 200.000000, '2026-02-10 09:00:00', '2026-03-02 09:00:00', NULL),
  (3, 2, 1, 2, 'INV-0003', NULL, '2026-03-05', '2026-07-31 00:00:00', 0, 750.500000, 750.500000, 0.000000, '2026-03-05 09:00:00', '2026-03-05 09:00:00', NULL),
  (4, 3, 1, 1, 'INV-0004', NULL, '2026-04-01', NULL, 0, 120.000000, 0.000000, 0.000000, '2026-04-01 09:00:00', '2026-04-01 09:00:00', NULL),
  (5, 2, 1, 5, 'INV-0005', NULL, '2026-04-20', '2026-05-20 00:00:00', 0, 300.000000, 0.000000, 0.000000, '2026-04-20 09:00:00', '2026-04-25 09:00:00', NULL),
  (6, 1, 1, 3, 'INV-0006_deleted', NULL, '2026-05-02', '2026-06-01 00:00:00', 1, 250.000000, 200.000000, 50.000000, '2026-05-02 09:00:00', '2026-05-10 10:00:00', '2026-05-10 10:00:00'),
  (7, 3, 1, 2, 'INV-0007', NULL, '2025-12-20', '2026-01-19 00:00:00', 0, 400.000000, 400.000000, 0.000000, '2025-12-20 09:00:00', '2025-12-20 09:00:00', NULL),
  (8, 2, 1, 4, 'INV-0008', NULL, '2026-05-15', '2026-05-15 00:00:00', 0, 80.000000, 0.000000, 80.000000, '2026-05-15 09:00:00', '2026-06-01 09:00:00', '2026-06-01 09:00:00'),
  (9, 4, 1, 2, 'INV-0009', NULL, '2026-03-01', '2026-03-31 00:00:00', 0, 90.000000, 90.000000, 0.000000, '2026-03-01 09:00:00', '2026-03-01 09:00:00', NULL),
  (10, 5, 2, 4, 'INV-0001', NULL, '2026-02-01', '2026-03-03 00:00:00', 0, 999.000000, 0.000000, 999.000000, '2026-02-01 09:00:00', '2026-02-05 09:00:00', NULL);

-- status_id: 4 completed, 5 partially refunded. Payment 2 paid two invoices and had 100
-- refunded on the second, payment 3 left 20 unapplied, payment 4 went with the deleted
-- invoice 6 (deleting an invoice takes what was applied to it off the payment, deletes a
-- payment that paid only that invoice, and soft-deletes the paymentable), payment 5 is
-- applied to nothing yet, payment 6 is company 2's.
INSERT INTO payments (id, company_id, client_id, type_id, status_id, amount, refunded, applied, date, transaction_reference, number, created_at, updated_at, deleted_at, is_deleted, currency_id) VALUES
  (1, 1, 1, 1, 4, 700.000000, 0.000000, 700.000000, '2026-01-20', 'BT-7781', '0001', '2026-01-20 12:00:00', '2026-01-20 12:00:00', NULL, 0, 1),
  (2, 1, 1, 15, 5, 600.000000, 100.000000, 600.000000, '2026-02-28', 'CHK-1042', '0002', '2026-02-28 12:00:00', '2026-03-02 09:00:00', NULL, 0, 1),
  (3, 1, 2, 2, 4, 100.000000, 0.000000, 80.000000, '2026-05-16', NULL, '0003', '2026-05-16 12:00:00', '2026-05-16 12:00:00', NULL, 0, 2),
  (4, 1, 1, 1, 4, 0.000000, 0.000000, 0.000000, '2026-05-05', 'BT-7902', '0004', '2026-05-05 12:00:00', '2026-05-10 10:00:00', '2026-05-10 10:00:00', 1, 1),
  (5, 1, 3, 1, 4, 40.000000, 0.000000, 0.000000, '2026-06-15', 'BT-8010', '0005', '2026-06-15 12:00:00', '2026-06-15 12:00:00', NULL, 0, 3),
  (6, 2, 5, 1, 4, 999.000000, 0.000000, 999.000000, '2026-02-05', 'SEPA-1', '0001', '2026-02-05 12:00:00', '2026-02-05 12:00:00', NULL, 0, 3);

INSERT INTO paymentables (id, payment_id, paymentable_id, amount, refunded, paymentable_type, created_at, updated_at, deleted_at) VALUES
  (1, 1, 1, 700.0000, 0.0000, 'invoices', '2026-01-20 12:00:00', '2026-01-20 12:00:00', NULL),
  (2, 2, 1, 300.0000, 0.0000, 'invoices', '2026-02-28 12:00:00', '2026-02-28 12:00:00', NULL),
  (3, 2, 2, 300.0000, 100.0000, 'invoices', '2026-02-28 12:00:00', '2026-03-02 09:00:00', NULL),
  (4, 3, 8, 80.0000, 0.0000, 'invoices', '2026-05-16 12:00:00', '2026-05-16 12:00:00', NULL),
  (5, 4, 6, 50.0000, 0.0000, 'invoices', '2026-05-05 12:00:00', '2026-05-10 10:00:00', '2026-05-10 10:00:00'),
  (6, 6, 10, 999.0000, 0.0000, 'invoices', '2026-02-05 12:00:00', '2026-02-05 12:00:00', NULL);
