-- The demo invoicing schema that the shipped report catalog reads.
-- Money is stored as integer minor units (cents), exactly as in the SQLite schema,
-- so one report definition serves both databases.

CREATE TABLE tenants (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    timezone    TEXT NOT NULL
);

CREATE TABLE clients (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
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
    created_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX clients_tenant ON clients (tenant_id);

CREATE TABLE contacts (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id   BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    first_name  TEXT NOT NULL,
    last_name   TEXT,
    email       TEXT,
    phone       TEXT,
    is_primary  BOOLEAN NOT NULL
);
CREATE INDEX contacts_client ON contacts (client_id);

CREATE TABLE products (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    price           BIGINT NOT NULL,
    cost            BIGINT,
    tax_name        TEXT,
    tax_rate_bp     INTEGER NOT NULL,
    stock           INTEGER,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX products_tenant ON products (tenant_id);

CREATE TABLE invoices (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      DATE NOT NULL,
    due_date        DATE NOT NULL,
    currency        TEXT NOT NULL,
    po_number       TEXT,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    paid_amount     BIGINT NOT NULL,
    balance         BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX invoices_tenant_issue ON invoices (tenant_id, issue_date);
CREATE INDEX invoices_client ON invoices (client_id);

CREATE TABLE invoice_items (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    invoice_id      BIGINT NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    product_id      BIGINT REFERENCES products(id) ON DELETE SET NULL,
    description     TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    unit_price      BIGINT NOT NULL,
    discount        BIGINT NOT NULL,
    tax_name        TEXT,
    tax_rate_bp     INTEGER NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL
);
CREATE INDEX invoice_items_invoice ON invoice_items (invoice_id);
CREATE INDEX invoice_items_tenant ON invoice_items (tenant_id);

CREATE TABLE quotes (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      DATE NOT NULL,
    valid_until     DATE,
    currency        TEXT NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL
);
CREATE INDEX quotes_tenant_issue ON quotes (tenant_id, issue_date);

CREATE TABLE credits (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    status          TEXT NOT NULL,
    issue_date      DATE NOT NULL,
    currency        TEXT NOT NULL,
    total_amount    BIGINT NOT NULL,
    applied_amount  BIGINT NOT NULL,
    balance         BIGINT NOT NULL
);
CREATE INDEX credits_tenant_issue ON credits (tenant_id, issue_date);

CREATE TABLE payments (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    client_id       BIGINT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    number          TEXT NOT NULL,
    payment_date    DATE NOT NULL,
    method          TEXT NOT NULL,
    reference       TEXT,
    currency        TEXT NOT NULL,
    amount          BIGINT NOT NULL,
    refunded        BIGINT NOT NULL
);
CREATE INDEX payments_tenant_date ON payments (tenant_id, payment_date);

CREATE TABLE payment_allocations (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    payment_id      BIGINT NOT NULL REFERENCES payments(id) ON DELETE CASCADE,
    invoice_id      BIGINT NOT NULL REFERENCES invoices(id) ON DELETE CASCADE,
    amount          BIGINT NOT NULL
);
CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id);
CREATE INDEX payment_allocations_invoice ON payment_allocations (invoice_id);

CREATE TABLE vendors (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL
);

CREATE TABLE expense_categories (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL
);

CREATE TABLE expenses (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    vendor_id       BIGINT REFERENCES vendors(id) ON DELETE SET NULL,
    category_id     BIGINT REFERENCES expense_categories(id) ON DELETE SET NULL,
    number          TEXT NOT NULL,
    expense_date    DATE NOT NULL,
    currency        TEXT NOT NULL,
    net_amount      BIGINT NOT NULL,
    tax_amount      BIGINT NOT NULL,
    total_amount    BIGINT NOT NULL,
    paid_date       DATE,
    notes           TEXT
);
CREATE INDEX expenses_tenant_date ON expenses (tenant_id, expense_date);

-- Foreign keys the demo schema lacked indexes for: without them deleting a large
-- tenant's clients or products scans these tables once per row.
CREATE INDEX quotes_client ON quotes (client_id);
CREATE INDEX credits_client ON credits (client_id);
CREATE INDEX payments_client ON payments (client_id);
CREATE INDEX invoice_items_product ON invoice_items (product_id);
