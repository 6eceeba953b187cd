//! Generated rows as plain Rust values, the same for both databases: the writer binds
//! them per dialect.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};

/// The demo tables, in an order where every table comes after those it references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Tenants,
    Clients,
    Contacts,
    Products,
    Vendors,
    ExpenseCategories,
    Invoices,
    InvoiceItems,
    Payments,
    PaymentAllocations,
    Quotes,
    Credits,
    Expenses,
}

impl Table {
    /// Every table, parents first.
    pub(super) const ALL: [Table; 13] = [
        Table::Tenants,
        Table::Clients,
        Table::Contacts,
        Table::Products,
        Table::Vendors,
        Table::ExpenseCategories,
        Table::Invoices,
        Table::InvoiceItems,
        Table::Payments,
        Table::PaymentAllocations,
        Table::Quotes,
        Table::Credits,
        Table::Expenses,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Table::Tenants => "tenants",
            Table::Clients => "clients",
            Table::Contacts => "contacts",
            Table::Products => "products",
            Table::Vendors => "vendors",
            Table::ExpenseCategories => "expense_categories",
            Table::Invoices => "invoices",
            Table::InvoiceItems => "invoice_items",
            Table::Payments => "payments",
            Table::PaymentAllocations => "payment_allocations",
            Table::Quotes => "quotes",
            Table::Credits => "credits",
            Table::Expenses => "expenses",
        }
    }

    /// The columns every generated row of this table fills, in the order of its values.
    pub(super) fn columns(self) -> &'static [&'static str] {
        match self {
            Table::Tenants => &["id", "slug", "name", "currency", "timezone"],
            Table::Clients => &[
                "id",
                "tenant_id",
                "number",
                "name",
                "vat_number",
                "currency",
                "email",
                "phone",
                "address",
                "city",
                "country",
                "payment_terms_days",
                "created_at",
            ],
            Table::Contacts => &[
                "id",
                "tenant_id",
                "client_id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "is_primary",
            ],
            Table::Products => &[
                "id",
                "tenant_id",
                "code",
                "name",
                "description",
                "price",
                "cost",
                "tax_name",
                "tax_rate_bp",
                "stock",
                "created_at",
            ],
            Table::Vendors | Table::ExpenseCategories => &["id", "tenant_id", "name"],
            Table::Invoices => &[
                "id",
                "tenant_id",
                "client_id",
                "number",
                "status",
                "issue_date",
                "due_date",
                "currency",
                "po_number",
                "net_amount",
                "tax_amount",
                "total_amount",
                "paid_amount",
                "balance",
                "created_at",
            ],
            Table::InvoiceItems => &[
                "id",
                "tenant_id",
                "invoice_id",
                "product_id",
                "description",
                "quantity",
                "unit_price",
                "discount",
                "tax_name",
                "tax_rate_bp",
                "net_amount",
                "tax_amount",
            ],
            Table::Payments => &[
                "id",
                "tenant_id",
                "client_id",
                "number",
                "payment_date",
                "method",
                "reference",
                "currency",
                "amount",
                "refunded",
            ],
            Table::PaymentAllocations => &["id", "tenant_id", "payment_id", "invoice_id", "amount"],
            Table::Quotes => &[
                "id",
                "tenant_id",
                "client_id",
                "number",
                "status",
                "issue_date",
                "valid_until",
                "currency",
                "net_amount",
                "tax_amount",
                "total_amount",
            ],
            Table::Credits => &[
                "id",
                "tenant_id",
                "client_id",
                "number",
                "status",
                "issue_date",
                "currency",
                "total_amount",
                "applied_amount",
                "balance",
            ],
            Table::Expenses => &[
                "id",
                "tenant_id",
                "vendor_id",
                "category_id",
                "number",
                "expense_date",
                "currency",
                "net_amount",
                "tax_amount",
                "total_amount",
                "paid_date",
                "notes",
            ],
        }
    }
}

/// One column value. Every column of a table always gets the same variant, nullable or
/// not, so a dialect can buffer a whole column as one typed array.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Int(Option<i64>),
    Text(Option<Cow<'static, str>>),
    Date(Option<NaiveDate>),
    Timestamp(DateTime<Utc>),
    Bool(bool),
}

/// A non-null integer.
pub(super) fn int(value: i64) -> Value {
    Value::Int(Some(value))
}

/// A non-null text.
pub(super) fn text(value: impl Into<Cow<'static, str>>) -> Value {
    Value::Text(Some(value.into()))
}

/// A nullable text.
pub(super) fn opt_text<T: Into<Cow<'static, str>>>(value: Option<T>) -> Value {
    Value::Text(value.map(Into::into))
}

/// A non-null date.
pub(super) fn date(value: NaiveDate) -> Value {
    Value::Date(Some(value))
}

/// The rows of one table, flattened: `columns().len()` values a row.
#[derive(Debug)]
pub(super) struct Rows {
    pub(super) table: Table,
    pub(super) values: Vec<Value>,
}

/// Rows of every table written together in one transaction.
#[derive(Debug)]
pub(super) struct Batch {
    tables: Vec<Rows>,
}

impl Batch {
    /// A batch with no rows.
    pub(super) fn new() -> Batch {
        Batch {
            tables: Table::ALL
                .iter()
                .map(|&table| Rows {
                    table,
                    values: Vec::new(),
                })
                .collect(),
        }
    }

    /// Adds one row to `table`.
    ///
    /// # Panics
    /// When `row` does not have one value per column: a mistake in the generator.
    pub(super) fn push<const N: usize>(&mut self, table: Table, row: [Value; N]) {
        assert_eq!(
            N,
            table.columns().len(),
            "a row of {} needs one value per column",
            table.name()
        );
        self.tables[table as usize].values.extend(row);
    }

    /// The tables that have rows, parents first.
    pub(super) fn tables(&self) -> impl Iterator<Item = &Rows> {
        self.tables.iter().filter(|rows| !rows.values.is_empty())
    }
}

/// The next free id of every table. Ids are chosen here rather than by the database so
/// that rows can reference each other before anything is written.
#[derive(Debug)]
pub(super) struct Ids([i64; Table::ALL.len()]);

impl Ids {
    /// Ids that follow the largest id already in each table.
    pub(super) fn after(largest: [i64; Table::ALL.len()]) -> Ids {
        Ids(largest.map(|id| id + 1))
    }

    /// Takes the next id of `table`.
    pub(super) fn next(&mut self, table: Table) -> i64 {
        let id = self.0[table as usize];
        self.0[table as usize] += 1;
        id
    }
}
