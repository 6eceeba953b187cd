-- The part of Invoice Ninja v5's MySQL schema that the three reports in this folder
-- read: only these tables, and only these columns of them, with the names and types
-- that Invoice Ninja's migrations give them (database/schema/mysql-schema.sql and the
-- migrations in database/migrations of invoiceninja/invoiceninja). A real Invoice Ninja
-- database has many more columns and tables, the reports never need them.
-- Used by the tests: load this file, then rows.sql, into an empty database.

CREATE TABLE timezones (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(191) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE currencies (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(191) NOT NULL,
  code varchar(191) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE payment_types (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  name varchar(191) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- settings holds the company's settings as a JSON object (currency_id, timezone_id, ...).
CREATE TABLE companies (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  company_key varchar(100) NOT NULL,
  settings mediumtext NOT NULL,
  created_at timestamp(6) NULL DEFAULT NULL,
  updated_at timestamp(6) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY companies_company_key_unique (company_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE group_settings (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  company_id int(10) unsigned NOT NULL,
  name varchar(191) DEFAULT NULL,
  settings mediumtext DEFAULT NULL,
  deleted_at timestamp(6) NULL DEFAULT NULL,
  is_deleted tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (id),
  KEY group_settings_company_id_deleted_at_index (company_id, deleted_at),
  CONSTRAINT group_settings_company_id_foreign FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE clients (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  company_id int(10) unsigned NOT NULL,
  name varchar(191) DEFAULT NULL,
  balance decimal(20,6) NOT NULL DEFAULT 0.000000,
  paid_to_date decimal(20,6) NOT NULL DEFAULT 0.000000,
  credit_balance decimal(20,6) NOT NULL DEFAULT 0.000000,
  settings mediumtext DEFAULT NULL,
  is_deleted tinyint(1) NOT NULL DEFAULT 0,
  group_settings_id int(10) unsigned DEFAULT NULL,
  number varchar(191) DEFAULT NULL,
  created_at timestamp(6) NULL DEFAULT NULL,
  updated_at timestamp(6) NULL DEFAULT NULL,
  deleted_at timestamp(6) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY clients_company_id_number_unique (company_id, number),
  KEY clients_company_id_deleted_at_index (company_id, deleted_at),
  KEY clients_company_id_index (company_id),
  CONSTRAINT clients_company_id_foreign FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- status_id: 1 draft, 2 sent, 3 partial, 4 paid, 5 cancelled, 6 reversed.
CREATE TABLE invoices (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  client_id int(10) unsigned NOT NULL,
  company_id int(10) unsigned NOT NULL,
  status_id int(10) unsigned NOT NULL,
  number varchar(191) DEFAULT NULL,
  po_number varchar(191) DEFAULT NULL,
  date date DEFAULT NULL,
  due_date datetime DEFAULT NULL,
  is_deleted tinyint(1) NOT NULL DEFAULT 0,
  amount decimal(20,6) NOT NULL,
  balance decimal(20,6) NOT NULL,
  paid_to_date decimal(20,6) NOT NULL DEFAULT 0.000000,
  created_at timestamp(6) NULL DEFAULT NULL,
  updated_at timestamp(6) NULL DEFAULT NULL,
  deleted_at timestamp(6) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY invoices_company_id_number_unique (company_id, number),
  KEY invoices_company_id_deleted_at_index (company_id, deleted_at),
  KEY invoices_client_id_index (client_id),
  KEY invoices_company_id_index (company_id),
  KEY invoices_status_id_balance_index (status_id, balance),
  CONSTRAINT invoices_client_id_foreign FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT invoices_company_id_foreign FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- status_id: 1 pending, 2 cancelled (shown as voided), 3 failed, 4 completed,
-- 5 partially refunded, 6 refunded. type_id is a payment_types id.
CREATE TABLE payments (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  company_id int(10) unsigned NOT NULL,
  client_id int(10) unsigned NOT NULL,
  type_id int(10) unsigned DEFAULT NULL,
  status_id int(10) unsigned NOT NULL,
  amount decimal(20,6) NOT NULL DEFAULT 0.000000,
  refunded decimal(20,6) NOT NULL DEFAULT 0.000000,
  applied decimal(20,6) NOT NULL DEFAULT 0.000000,
  date date DEFAULT NULL,
  transaction_reference varchar(191) DEFAULT NULL,
  number varchar(191) DEFAULT NULL,
  created_at timestamp(6) NULL DEFAULT NULL,
  updated_at timestamp(6) NULL DEFAULT NULL,
  deleted_at timestamp(6) NULL DEFAULT NULL,
  is_deleted tinyint(1) NOT NULL DEFAULT 0,
  currency_id int(10) unsigned NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY payments_company_id_number_unique (company_id, number),
  KEY payments_company_id_deleted_at_index (company_id, deleted_at),
  KEY payments_company_id_index (company_id),
  KEY payments_client_id_index (client_id),
  KEY payments_status_id_index (status_id),
  CONSTRAINT payments_client_id_foreign FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT payments_company_id_foreign FOREIGN KEY (company_id) REFERENCES companies (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per payment applied to an invoice (paymentable_type 'invoices') or a credit
-- (paymentable_type 'App\Models\Credit'), amount and refunded are that application's.
CREATE TABLE paymentables (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  payment_id int(10) unsigned NOT NULL,
  paymentable_id int(10) unsigned NOT NULL,
  amount decimal(16,4) NOT NULL DEFAULT 0.0000,
  refunded decimal(16,4) NOT NULL DEFAULT 0.0000,
  paymentable_type varchar(191) NOT NULL,
  created_at timestamp NULL DEFAULT NULL,
  updated_at timestamp NULL DEFAULT NULL,
  deleted_at timestamp(6) NULL DEFAULT NULL,
  PRIMARY KEY (id),
  KEY paymentables_payment_id_foreign (payment_id),
  KEY paymentables_paymentable_id_index (paymentable_id),
  CONSTRAINT paymentables_payment_id_foreign FOREIGN KEY (payment_id) REFERENCES payments (id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
