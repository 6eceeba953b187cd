-- The demo invoicing schema that the shipped report catalog reads.
-- Dates are TEXT 'YYYY-MM-DD', timestamps TEXT in RFC 3339 UTC, booleans 0/1.
-- Money is stored as integer minor units (cents), exactly as in the PostgreSQL schema,
-- so one report definition serves both databases.

CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    timezone    TEXT NOT NULL
);

CREATE TABLE clients (
    id                  INTEGER PRIMARY KEY,
    tenant_id           INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number              TEXT NOT NULL,
    name                TEXT NOT NULL,
    vat_number          TEXT,
    currency            TEXT NOT NULL,
    email               TEXT,
    phone               TEXT,
    address             TEXT,
    city                TEXT,
    country             TEXT,
    payment_terms_days  INTEGER NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX clients_tenant ON clients (tenant_id);

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id   INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    first_name  TEXT NOT NULL,
    last_name   TEXT,
    email       TEXT,
    phone       TEXT,
    is_primary  INTEGER NOT NULL
);
CREATE INDEX contacts_client ON contacts (client_id);

CREATE TABLE products (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    price           INTEGER NOT NULL,
    cost            INTEGER,
    tax_name        TEXT,
    tax_rate_bp     INTEGER NOT NULL,
    stock           INTEGER,
    created_at      TEXT NOT NULL
);
CREATE INDEX products_tenant ON products (tenant_id);

CREATE TABLE invoices (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      TEXT NOT NULL,
    due_date        TEXT NOT NULL,
    currency        TEXT NOT NULL,
    po_number       TEXT,
    net_amount      INTEGER NOT NULL,
    tax_amount      INTEGER NOT NULL,
    total_amount    INTEGER NOT NULL,
    paid_amount     INTEGER NOT NULL,
    balance         INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX invoices_tenant_issue ON invoices (tenant_id, issue_date);
CREATE INDEX invoices_client ON invoices (client_id);

CREATE TABLE invoice_items (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    invoice_id      INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    product_id      INTEGER REFERENCES products(id) ON DELETE SET NULL,
    description     TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    unit_price      INTEGER NOT NULL,
    discount        INTEGER NOT NULL,
    tax_name        TEXT,
    tax_rate_bp     INTEGER NOT NULL,
    net_amount      INTEGER NOT NULL,
    tax_amount      INTEGER NOT NULL
);
CREATE INDEX invoice_items_invoice ON invoice_items (invoice_id);
CREATE INDEX invoice_items_tenant ON invoice_items (tenant_id);

CREATE TABLE quotes (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      TEXT NOT NULL,
    valid_until     TEXT,
    currency        TEXT NOT NULL,
    net_amount      INTEGER NOT NULL,
    tax_amount      INTEGER NOT NULL,
    total_amount    INTEGER NOT NULL
);
CREATE INDEX quotes_tenant_issue ON quotes (tenant_id, issue_date);

CREATE TABLE credits (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      TEXT NOT NULL,
    currency        TEXT NOT NULL,
    total_amount    INTEGER NOT NULL,
    applied_amount  INTEGER NOT NULL,
    balance         INTEGER NOT NULL
);
CREATE INDEX credits_tenant_issue ON credits (tenant_id, issue_date);

CREATE TABLE payments (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    payment_date    TEXT NOT NULL,
    method          TEXT NOT NULL,
    reference       TEXT,
    currency        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    refunded        INTEGER NOT NULL
);
CREATE INDEX payments_tenant_date ON payments (tenant_id, payment_date);

CREATE TABLE payment_allocations (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    payment_id      INTEGER NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    invoice_id      INTEGER NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    amount          INTEGER NOT NULL
);
CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id);

CREATE TABLE vendors (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL
);

CREATE TABLE expense_categories (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL
);

CREATE TABLE expenses (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    vendor_id       INTEGER REFERENCES vendors(id) ON DELETE SET NULL,
    category_id     INTEGER REFERENCES expense_categories(id) ON DELETE SET NULL,
    number          TEXT NOT NULL,
    expense_date    TEXT NOT NULL,
    currency        TEXT NOT NULL,
    net_amount      INTEGER NOT NULL,
    tax_amount      INTEGER NOT NULL,
    total_amount    INTEGER NOT NULL,
    paid_date       TEXT,
    notes           TEXT
);
CREATE INDEX expenses_tenant_date ON expenses (tenant_id, expense_date);

-- Foreign keys the demo schema lacked indexes for: without them deleting a large
-- tenant's clients or products scans these tables once per row.
CREATE INDEX quotes_client ON quotes (client_id);
CREATE INDEX credits_client ON credits (client_id);
CREATE INDEX payments_client ON payments (client_id);
CREATE INDEX invoice_items_product ON invoice_items (product_id);
