-- The demo invoicing schema that the shipped report catalog reads, for MySQL and MariaDB.
-- Money is stored as integer minor units (cents), exactly as in the SQLite and PostgreSQL
-- schemas, so one report definition serves every database.
-- Dates are DATE; timestamps DATETIME in UTC, whole seconds; booleans BOOLEAN (TINYINT(1)).
-- Text that is compared, indexed or unique is VARCHAR; free text is TEXT, and item and
-- product descriptions MEDIUMTEXT, as they may be longer than TEXT's 64 KiB.
-- Every table is utf8mb4 with the binary collation, so that text compares and sorts by
-- its bytes, as in SQLite: a report gives the same rows in the same order everywhere.
-- Foreign keys are table constraints: MySQL before 9.0 ignores a column's REFERENCES.

CREATE TABLE tenants (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    slug        VARCHAR(64) NOT NULL UNIQUE,
    name        VARCHAR(255) NOT NULL,
    currency    VARCHAR(64) NOT NULL,
    timezone    VARCHAR(64) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE clients (
    id                  BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id           BIGINT NOT NULL,
    number              VARCHAR(64) NOT NULL,
    name                VARCHAR(255) NOT NULL,
    vat_number          VARCHAR(64),
    currency            VARCHAR(64) NOT NULL,
    email               VARCHAR(255),
    phone               VARCHAR(64),
    address             TEXT,
    city                VARCHAR(255),
    country             VARCHAR(64),
    payment_terms_days  INT NOT NULL,
    created_at          DATETIME NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX clients_tenant ON clients (tenant_id);

CREATE TABLE contacts (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id   BIGINT NOT NULL,
    client_id   BIGINT NOT NULL,
    first_name  VARCHAR(255) NOT NULL,
    last_name   VARCHAR(255),
    email       VARCHAR(255),
    phone       VARCHAR(64),
    is_primary  BOOLEAN NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX contacts_client ON contacts (client_id);

CREATE TABLE products (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    code            VARCHAR(64) NOT NULL,
    name            VARCHAR(255) NOT NULL,
    description     MEDIUMTEXT,
    price           BIGINT NOT NULL,
    cost            BIGINT,
    tax_name        VARCHAR(255),
    tax_rate_bp     INT NOT NULL,
    stock           INT,
    created_at      DATETIME NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX products_tenant ON products (tenant_id);

CREATE TABLE invoices (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    client_id       BIGINT NOT NULL,
    number          VARCHAR(64) NOT NULL,
    status          VARCHAR(64) NOT NULL,
    issue_date      DATE NOT NULL,
    due_date        DATE NOT NULL,
    currency        VARCHAR(64) NOT NULL,
    po_number       VARCHAR(64),
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    paid_amount     BIGINT NOT NULL,
    balance         BIGINT NOT NULL,
    created_at      DATETIME NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX invoices_tenant_issue ON invoices (tenant_id, issue_date);
CREATE INDEX invoices_client ON invoices (client_id);

CREATE TABLE invoice_items (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    invoice_id      BIGINT NOT NULL,
    product_id      BIGINT,
    description     MEDIUMTEXT NOT NULL,
    quantity        INT NOT NULL,
    unit_price      BIGINT NOT NULL,
    discount        BIGINT NOT NULL,
    tax_name        VARCHAR(255),
    tax_rate_bp     INT NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (invoice_id) REFERENCES invoices(id) ON DELETE CASCADE,
    FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX invoice_items_invoice ON invoice_items (invoice_id);
CREATE INDEX invoice_items_tenant ON invoice_items (tenant_id);

CREATE TABLE quotes (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    client_id       BIGINT NOT NULL,
    number          VARCHAR(64) NOT NULL,
    status          VARCHAR(64) NOT NULL,
    issue_date      DATE NOT NULL,
    valid_until     DATE,
    currency        VARCHAR(64) NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX quotes_tenant_issue ON quotes (tenant_id, issue_date);

CREATE TABLE credits (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    client_id       BIGINT NOT NULL,
    number          VARCHAR(64) NOT NULL,
    status          VARCHAR(64) NOT NULL,
    issue_date      DATE NOT NULL,
    currency        VARCHAR(64) NOT NULL,
    total_amount    BIGINT NOT NULL,
    applied_amount  BIGINT NOT NULL,
    balance         BIGINT NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX credits_tenant_issue ON credits (tenant_id, issue_date);

CREATE TABLE payments (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    client_id       BIGINT NOT NULL,
    number          VARCHAR(64) NOT NULL,
    payment_date    DATE NOT NULL,
    method          VARCHAR(64) NOT NULL,
    reference       VARCHAR(255),
    currency        VARCHAR(64) NOT NULL,
    amount          BIGINT NOT NULL,
    refunded        BIGINT NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (client_id) REFERENCES clients(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX payments_tenant_date ON payments (tenant_id, payment_date);

CREATE TABLE payment_allocations (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    payment_id      BIGINT NOT NULL,
    invoice_id      BIGINT NOT NULL,
    amount          BIGINT NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (payment_id) REFERENCES payments(id) ON DELETE CASCADE,
    FOREIGN KEY (invoice_id) REFERENCES invoices(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id);

CREATE TABLE vendors (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id   BIGINT NOT NULL,
    name        VARCHAR(255) NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE expense_categories (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id   BIGINT NOT NULL,
    name        VARCHAR(255) NOT NULL,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE expenses (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id       BIGINT NOT NULL,
    vendor_id       BIGINT,
    category_id     BIGINT,
    number          VARCHAR(64) NOT NULL,
    expense_date    DATE NOT NULL,
    currency        VARCHAR(64) NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    paid_date       DATE,
    notes           TEXT,
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE,
    FOREIGN KEY (vendor_id) REFERENCES vendors(id) ON DELETE SET NULL,
    FOREIGN KEY (category_id) REFERENCES expense_categories(id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX expenses_tenant_date ON expenses (tenant_id, expense_date);

-- Foreign keys the demo schema lacked indexes for: without them deleting a large
-- tenant's clients or products scans these tables once per row. (InnoDB indexes a
-- foreign key by itself when no index covers it, and drops that index for these.)
CREATE INDEX quotes_client ON quotes (client_id);
CREATE INDEX credits_client ON credits (client_id);
CREATE INDEX payments_client ON payments (client_id);
CREATE INDEX invoice_items_product ON invoice_items (product_id);
