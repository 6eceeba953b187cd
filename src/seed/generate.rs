//! Generates one tenant's rows: first its reference data (clients, contacts, products,
//! vendors, categories), then invoices with everything hanging off them, one batch at a
//! time so that a million invoices never sit in memory at once.

use std::borrow::Cow;
use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use tokio::sync::mpsc;

use super::SeedOptions;
use super::profile::{Profile, Tax};
use super::rng::Rng;
use super::rows::{Batch, Ids, Table, Value, date, int, opt_text, text};
use super::text::{
    CUSTOM_LINES, EXPENSE_CATEGORIES, FIRST_NAMES, HOSTILE_NAMES, HOSTILE_PRODUCTS, INDUSTRIES,
    NOTES, PRODUCT_ADJECTIVES, PRODUCT_NOUNS, REFERENCES, STREETS, SURNAMES, VENDORS,
    long_description,
};

/// Invoices per batch: large enough that a transaction amortises its commit, small
/// enough that a batch stays a few tens of megabytes.
const BATCH_INVOICES: u64 = 20_000;

/// How far back invoices go from the anchor date.
const HISTORY_DAYS: u64 = 730;

/// Payment terms of clients, in days; 30 days is the most common.
const PAYMENT_TERMS: &[i64] = &[0, 7, 14, 30, 30, 30, 45, 60];

/// Days overdue as of the anchor that land in each aging bucket: current (due today),
/// 1–30, 31–60, 61–90, 91–120 and over 120.
const AGING_SHOWCASE: [i64; 6] = [0, 15, 45, 75, 105, 200];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Draft,
    Sent,
    Partial,
    Paid,
    Void,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Sent => "sent",
            Status::Partial => "partial",
            Status::Paid => "paid",
            Status::Void => "void",
        }
    }
}

/// What an invoice is forced to be, so that even a tiny seed has an unpaid invoice in
/// every aging bucket, every status, and the over-long item description.
#[derive(Debug, Clone, Copy)]
struct Showcase {
    status: Status,
    days_overdue: Option<i64>,
}

/// The first invoices of every tenant, in order.
fn showcase(index: u64) -> Option<Showcase> {
    let index = usize::try_from(index).ok()?;
    let aging = AGING_SHOWCASE.len();
    let (status, days_overdue) = match index {
        0 => (Status::Paid, None),
        i if i <= aging => (Status::Sent, Some(AGING_SHOWCASE[i - 1])),
        i if i <= 2 * aging => (Status::Partial, Some(AGING_SHOWCASE[i - 1 - aging])),
        i if i == 2 * aging + 1 => (Status::Draft, None),
        i if i == 2 * aging + 2 => (Status::Void, None),
        _ => return None,
    };
    Some(Showcase {
        status,
        days_overdue,
    })
}

#[derive(Debug)]
struct Client {
    id: i64,
    currency: &'static str,
    terms_days: i64,
}

#[derive(Debug)]
struct Product {
    id: i64,
    name: Cow<'static, str>,
    price: i64,
    tax: Tax,
}

/// Money received for one invoice on one day, before it is grouped into payments.
#[derive(Debug)]
struct Settlement {
    client_id: i64,
    date: NaiveDate,
    invoice_id: i64,
    currency: &'static str,
    amount: i64,
}

/// Generates every tenant's rows in order and sends them in batches, each tenant's
/// reference data first; stops early when the receiver hangs up.
pub(super) fn generate(
    options: &SeedOptions,
    tenants: &[(String, &'static Profile)],
    mut ids: Ids,
    batches: mpsc::Sender<Batch>,
) {
    for (index, (slug, profile)) in tenants.iter().enumerate() {
        let (mut tenant, reference_data) =
            TenantGenerator::start(options, index, slug, profile, &mut ids);
        if batches.blocking_send(reference_data).is_err() {
            return;
        }
        while let Some(batch) = tenant.next_batch(&mut ids) {
            if batches.blocking_send(batch).is_err() {
                return;
            }
        }
    }
}

/// Counts of the rows generated so far, for numbering (`INV-0000001`, ...).
#[derive(Debug, Default)]
struct Counters {
    invoices: u64,
    payments: u64,
    quotes: u64,
    credits: u64,
    expenses: u64,
}

/// The generator of one tenant's data.
#[derive(Debug)]
struct TenantGenerator {
    rng: Rng,
    profile: &'static Profile,
    anchor: NaiveDate,
    tenant_id: i64,
    invoices_total: u64,
    clients: Vec<Client>,
    products: Vec<Product>,
    vendors: Vec<i64>,
    categories: Vec<i64>,
    done: Counters,
}

impl TenantGenerator {
    /// Generates the tenant and its reference data; the batch it returns must be written
    /// before any from [`TenantGenerator::next_batch`].
    fn start(
        options: &SeedOptions,
        index: usize,
        slug: &str,
        profile: &'static Profile,
        ids: &mut Ids,
    ) -> (TenantGenerator, Batch) {
        let mut generator = TenantGenerator {
            rng: Rng::new(options.seed, index as u64),
            profile,
            anchor: options.anchor,
            tenant_id: ids.next(Table::Tenants),
            invoices_total: u64::from(options.invoices_per_tenant),
            clients: Vec::new(),
            products: Vec::new(),
            vendors: Vec::new(),
            categories: Vec::new(),
            done: Counters::default(),
        };
        let mut batch = Batch::new();
        let name = if slug == profile.slug {
            Cow::Borrowed(profile.name)
        } else {
            Cow::Owned(format!("Tenant {}", index + 1))
        };
        batch.push(
            Table::Tenants,
            [
                int(generator.tenant_id),
                text(slug.to_owned()),
                text(name),
                text(profile.currency),
                text(profile.timezone),
            ],
        );
        generator.clients(&mut batch, ids);
        generator.products(&mut batch, ids);
        generator.expense_references(&mut batch, ids);
        (generator, batch)
    }

    /// The next batch of invoices with their items, payments and allocations, and a
    /// share of quotes, credits and expenses; `None` once every invoice is generated.
    fn next_batch(&mut self, ids: &mut Ids) -> Option<Batch> {
        let remaining = self.invoices_total - self.done.invoices;
        if remaining == 0 {
            return None;
        }
        let count = remaining.min(BATCH_INVOICES);
        let mut batch = Batch::new();
        let mut settlements = Vec::new();
        for _ in 0..count {
            self.invoice(&mut batch, ids, &mut settlements);
        }
        self.payments(&mut batch, ids, settlements);
        for _ in 0..count.div_ceil(5) {
            self.quote(&mut batch, ids);
        }
        for _ in 0..count.div_ceil(20) {
            self.credit(&mut batch, ids);
        }
        for _ in 0..count.div_ceil(4) {
            self.expense(&mut batch, ids);
        }
        Some(batch)
    }

    fn days_ago(&self, days: u64) -> NaiveDate {
        self.anchor - TimeDelta::days(days as i64)
    }

    /// A random date in the history window.
    fn random_date(&mut self) -> NaiveDate {
        let days = self.rng.below(HISTORY_DAYS);
        self.days_ago(days)
    }

    /// `date + days`, but never after the anchor: nothing happens in the future.
    fn not_after_anchor(&self, date: NaiveDate, days: i64) -> NaiveDate {
        (date + TimeDelta::days(days)).min(self.anchor)
    }

    /// A moment during office hours (UTC) on `date`.
    fn timestamp(&mut self, date: NaiveDate) -> DateTime<Utc> {
        let start = date.and_hms_opt(8, 0, 0).expect("08:00 exists").and_utc();
        start + TimeDelta::seconds(self.rng.below(10 * 3600) as i64)
    }

    /// A price in the tenant's minor units, e.g. 19.99 or 250.00.
    fn price(&mut self, low_units: i64, high_units: i64) -> i64 {
        let cents = *self.rng.pick(&[0, 0, 50, 95, 99]);
        (self.rng.between(low_units, high_units) * 100 + cents) * self.profile.price_scale
    }

    /// One of the tenant's tax rates, the standard one most often.
    fn tax(&mut self) -> Tax {
        let taxes = self.profile.taxes;
        let index = self.rng.weighted(&[(70, 0), (20, 1), (10, 2)]) % taxes.len();
        taxes[index]
    }

    fn phone(&mut self) -> String {
        format!(
            "+{}-555-{:04}",
            self.profile.dial_code,
            self.rng.below(10_000)
        )
    }

    fn company_name(&mut self) -> String {
        let surname = self.rng.pick(SURNAMES);
        let other = self.rng.pick(SURNAMES);
        let industry = self.rng.pick(INDUSTRIES);
        let suffix = self.rng.pick(self.profile.company_suffixes);
        match self.rng.below(3) {
            0 => format!("{surname} {industry} {suffix}"),
            1 => format!("{surname} & {other} {suffix}"),
            _ => format!("{surname}, {other} and Co."),
        }
    }

    fn clients(&mut self, batch: &mut Batch, ids: &mut Ids) {
        let count = (self.invoices_total / 40).clamp(30, 5_000);
        let foreign = self.profile.foreign_currencies;
        for index in 0..count as usize {
            let id = ids.next(Table::Clients);
            let name = match HOSTILE_NAMES.get(index) {
                Some(&hostile) => Cow::Borrowed(hostile),
                None => Cow::Owned(self.company_name()),
            };
            // Every fifth client is billed in a foreign currency, when the tenant has one.
            let currency = if !foreign.is_empty() && index % 5 == 1 {
                foreign[index / 5 % foreign.len()]
            } else {
                self.profile.currency
            };
            let terms_days = *self.rng.pick(PAYMENT_TERMS);
            let country = self.profile.country;
            let vat_number = self
                .rng
                .percent(55)
                .then(|| format!("{country}{:09}", self.rng.below(1_000_000_000)));
            let email = self
                .rng
                .percent(85)
                .then(|| format!("billing+{id}@example.com"));
            let phone = self.rng.percent(70).then(|| self.phone());
            let address = self.rng.percent(80).then(|| {
                let street = self.rng.pick(STREETS);
                let number = self.rng.between(1, 250);
                if self.rng.percent(30) {
                    format!("{number} {street}\nSuite {}", self.rng.between(1, 40))
                } else {
                    format!("{number} {street}")
                }
            });
            let city = self
                .rng
                .percent(85)
                .then(|| *self.rng.pick(self.profile.cities));
            let country = self.rng.percent(90).then_some(country);
            let age = HISTORY_DAYS + self.rng.below(200);
            let created = self.days_ago(age);
            let created_at = self.timestamp(created);
            batch.push(
                Table::Clients,
                [
                    int(id),
                    int(self.tenant_id),
                    text(format!("C-{:05}", index + 1)),
                    text(name),
                    opt_text(vat_number),
                    text(currency),
                    opt_text(email),
                    opt_text(phone),
                    opt_text(address),
                    opt_text(city),
                    opt_text(country),
                    int(terms_days),
                    Value::Timestamp(created_at),
                ],
            );
            self.contacts(batch, ids, id);
            self.clients.push(Client {
                id,
                currency,
                terms_days,
            });
        }
    }

    fn contacts(&mut self, batch: &mut Batch, ids: &mut Ids, client_id: i64) {
        let count = self.rng.weighted(&[(50, 1), (35, 2), (15, 3)]);
        for index in 0..count {
            let id = ids.next(Table::Contacts);
            let first_name = *self.rng.pick(FIRST_NAMES);
            let last_name = match self.rng.below(100) {
                0..8 => None,
                8..11 => Some(*self.rng.pick(HOSTILE_NAMES)),
                _ => Some(*self.rng.pick(SURNAMES)),
            };
            let email = self
                .rng
                .percent(80)
                .then(|| format!("contact{id}@example.com"));
            let phone = self.rng.percent(60).then(|| self.phone());
            batch.push(
                Table::Contacts,
                [
                    int(id),
                    int(self.tenant_id),
                    int(client_id),
                    text(first_name),
                    opt_text(last_name),
                    opt_text(email),
                    opt_text(phone),
                    Value::Bool(index == 0),
                ],
            );
        }
    }

    fn products(&mut self, batch: &mut Batch, ids: &mut Ids) {
        let count = (self.invoices_total / 200).clamp(20, 300);
        for index in 0..count as usize {
            let id = ids.next(Table::Products);
            let name = match HOSTILE_PRODUCTS.get(index) {
                Some(&hostile) => Cow::Borrowed(hostile),
                None => {
                    let adjective = self.rng.pick(PRODUCT_ADJECTIVES);
                    let noun = self.rng.pick(PRODUCT_NOUNS);
                    Cow::Owned(format!("{adjective} {noun} {}", index + 1))
                }
            };
            let description = match self.rng.below(10) {
                0..4 => None,
                4 => Some(Cow::Borrowed(*self.rng.pick(CUSTOM_LINES))),
                _ => Some(Cow::Owned(format!(
                    "{name}, for the {} trade",
                    self.rng.pick(INDUSTRIES)
                ))),
            };
            // Services have no cost price and no stock.
            let service = self.rng.percent(35);
            let price = self.price(5, 2_000);
            let cost = (!service).then(|| price * self.rng.between(30, 70) / 100);
            let stock = (!service).then(|| self.rng.between(0, 500));
            let tax = self.tax();
            let age = HISTORY_DAYS + self.rng.below(100);
            let created = self.days_ago(age);
            let created_at = self.timestamp(created);
            batch.push(
                Table::Products,
                [
                    int(id),
                    int(self.tenant_id),
                    text(format!("SKU-{:05}", index + 1)),
                    text(name.clone()),
                    opt_text(description),
                    int(price),
                    Value::Int(cost),
                    opt_text(tax.name),
                    int(tax.rate_bp),
                    Value::Int(stock),
                    Value::Timestamp(created_at),
                ],
            );
            self.products.push(Product {
                id,
                name,
                price,
                tax,
            });
        }
    }

    fn expense_references(&mut self, batch: &mut Batch, ids: &mut Ids) {
        for &name in VENDORS {
            let id = ids.next(Table::Vendors);
            batch.push(Table::Vendors, [int(id), int(self.tenant_id), text(name)]);
            self.vendors.push(id);
        }
        for &name in EXPENSE_CATEGORIES {
            let id = ids.next(Table::ExpenseCategories);
            batch.push(
                Table::ExpenseCategories,
                [int(id), int(self.tenant_id), text(name)],
            );
            self.categories.push(id);
        }
    }

    /// One invoice with its items; the money it received goes to `settlements`.
    fn invoice(&mut self, batch: &mut Batch, ids: &mut Ids, settlements: &mut Vec<Settlement>) {
        let index = self.done.invoices;
        self.done.invoices += 1;
        let id = ids.next(Table::Invoices);
        let client = self.rng.below(self.clients.len() as u64) as usize;
        let (client_id, currency, terms_days) = {
            let client = &self.clients[client];
            (client.id, client.currency, client.terms_days)
        };
        let forced = showcase(index);
        // Issue dates advance with the invoice number over the history window, as in a
        // real ledger; an aging showcase invoice is dated back from its due date instead.
        let issue_date = match forced.and_then(|forced| forced.days_overdue) {
            Some(days_overdue) => self.anchor - TimeDelta::days(days_overdue + terms_days),
            None => {
                let days = (self.invoices_total - 1 - index) * HISTORY_DAYS / self.invoices_total;
                let jitter = self.rng.below(3);
                self.days_ago(days.saturating_sub(jitter))
            }
        };
        let due_date = issue_date + TimeDelta::days(terms_days);
        let status = match forced {
            Some(forced) => forced.status,
            None => self.random_status(issue_date, due_date),
        };

        let (net, tax) = self.items(batch, ids, id, index == 0);
        let total = net + tax;
        let paid = match status {
            Status::Paid => total,
            Status::Partial => (total * self.rng.between(10, 90) / 100).clamp(1, total - 1),
            Status::Draft | Status::Sent | Status::Void => 0,
        };
        if paid > 0 {
            let split = self
                .rng
                .percent(if status == Status::Paid { 15 } else { 25 });
            let first = if split {
                paid * self.rng.between(20, 80) / 100
            } else {
                paid
            };
            let delay = self.rng.between(0, terms_days + 40);
            let first_date = self.not_after_anchor(issue_date, delay);
            let mut settle = |amount, date| {
                settlements.push(Settlement {
                    client_id,
                    date,
                    invoice_id: id,
                    currency,
                    amount,
                });
            };
            settle(first, first_date);
            if first < paid {
                let delay = self.rng.between(1, 45);
                let second_date = self.not_after_anchor(first_date, delay);
                settle(paid - first, second_date);
            }
        }
        let po_number = match self.rng.below(100) {
            0..65 => None,
            65..68 => Some(Cow::Borrowed(*self.rng.pick(REFERENCES))),
            _ => Some(Cow::Owned(format!(
                "PO-{}",
                self.rng.between(1_000, 99_999)
            ))),
        };
        let created_at = self.timestamp(issue_date);
        batch.push(
            Table::Invoices,
            [
                int(id),
                int(self.tenant_id),
                int(client_id),
                text(format!("INV-{:07}", index + 1)),
                text(status.as_str()),
                date(issue_date),
                date(due_date),
                text(currency),
                opt_text(po_number),
                int(net),
                int(tax),
                int(total),
                int(paid),
                int(total - paid),
                Value::Timestamp(created_at),
            ],
        );
    }

    /// Old invoices are mostly paid, recent ones mostly open; a few are drafts or void.
    fn random_status(&mut self, issue_date: NaiveDate, due_date: NaiveDate) -> Status {
        let roll = self.rng.below(100);
        let recent = (self.anchor - issue_date).num_days() <= 30;
        if roll < 2 {
            return Status::Void;
        }
        if recent && roll < 6 {
            return Status::Draft;
        }
        let days_overdue = (self.anchor - due_date).num_days();
        let (paid, partial) = if days_overdue <= 0 {
            (15, 10)
        } else {
            ((55 + days_overdue / 4).min(97) as u64, 5)
        };
        let roll = self.rng.below(100);
        if roll < paid {
            Status::Paid
        } else if roll < paid + partial {
            Status::Partial
        } else {
            Status::Sent
        }
    }

    /// The invoice's lines; returns their net and tax sums.
    fn items(
        &mut self,
        batch: &mut Batch,
        ids: &mut Ids,
        invoice_id: i64,
        with_long_description: bool,
    ) -> (i64, i64) {
        let count = self
            .rng
            .weighted(&[(35, 1), (30, 2), (20, 3), (10, 4), (5, 5)]);
        let (mut net_sum, mut tax_sum) = (0, 0);
        for line in 0..count {
            let id = ids.next(Table::InvoiceItems);
            let (product_id, mut description, unit_price, tax) = if self.rng.percent(80) {
                let product = &self.products[self.rng.below(self.products.len() as u64) as usize];
                (
                    Some(product.id),
                    product.name.clone(),
                    product.price,
                    product.tax,
                )
            } else {
                let description = Cow::Borrowed(*self.rng.pick(CUSTOM_LINES));
                (None, description, self.price(10, 500), self.tax())
            };
            if with_long_description && line == 0 {
                description = Cow::Owned(long_description());
            }
            let quantity = match self
                .rng
                .weighted(&[(50, 1), (25, 2), (15, 3), (7, 5), (3, 0)])
            {
                0 => self.rng.between(10, 50),
                quantity => quantity,
            };
            let gross = quantity * unit_price;
            let discount = if self.rng.percent(12) {
                gross * self.rng.pick(&[5, 10, 15, 20]) / 100
            } else {
                0
            };
            let net = gross - discount;
            let tax_amount = tax_on(net, tax.rate_bp);
            net_sum += net;
            tax_sum += tax_amount;
            batch.push(
                Table::InvoiceItems,
                [
                    int(id),
                    int(self.tenant_id),
                    int(invoice_id),
                    Value::Int(product_id),
                    text(description),
                    int(quantity),
                    int(unit_price),
                    int(discount),
                    opt_text(tax.name),
                    int(tax.rate_bp),
                    int(net),
                    int(tax_amount),
                ],
            );
        }
        (net_sum, tax_sum)
    }

    /// Groups settlements into payments: a client often pays several invoices due about
    /// the same time with one transfer, so a payment may cover up to three invoices.
    fn payments(&mut self, batch: &mut Batch, ids: &mut Ids, mut settlements: Vec<Settlement>) {
        settlements.sort_by_key(|s| (s.client_id, s.date, s.invoice_id));
        let mut start = 0;
        while start < settlements.len() {
            let first = &settlements[start];
            let mut invoices = BTreeSet::from([first.invoice_id]);
            let mut end = start + 1;
            while let Some(next) = settlements.get(end) {
                let joins = end - start < 3
                    && next.client_id == first.client_id
                    && (next.date - first.date).num_days() <= 14
                    && !invoices.contains(&next.invoice_id)
                    && self.rng.percent(60);
                if !joins {
                    break;
                }
                invoices.insert(next.invoice_id);
                end += 1;
            }
            self.payment(batch, ids, &settlements[start..end]);
            start = end;
        }
    }

    /// One payment allocated to the settlements it covers, all of one client, sorted by
    /// date.
    fn payment(&mut self, batch: &mut Batch, ids: &mut Ids, covers: &[Settlement]) {
        let id = ids.next(Table::Payments);
        self.done.payments += 1;
        let first = &covers[0];
        let allocated: i64 = covers.iter().map(|s| s.amount).sum();
        // Now and then a client pays too much; half of those get the excess refunded.
        let excess = if self.rng.percent(3) {
            self.price(10, 200)
        } else {
            0
        };
        let refunded = if excess > 0 && self.rng.percent(50) {
            excess
        } else {
            0
        };
        let reference = match self.rng.below(100) {
            0..40 => None,
            40..46 => Some(Cow::Borrowed(*self.rng.pick(REFERENCES))),
            _ => Some(Cow::Owned(format!(
                "TRX-{:08}",
                self.rng.below(100_000_000)
            ))),
        };
        batch.push(
            Table::Payments,
            [
                int(id),
                int(self.tenant_id),
                int(first.client_id),
                text(format!("PAY-{:07}", self.done.payments)),
                date(covers[covers.len() - 1].date),
                text(*self.rng.pick(self.profile.payment_methods)),
                opt_text(reference),
                text(first.currency),
                int(allocated + excess),
                int(refunded),
            ],
        );
        for settlement in covers {
            batch.push(
                Table::PaymentAllocations,
                [
                    int(ids.next(Table::PaymentAllocations)),
                    int(self.tenant_id),
                    int(id),
                    int(settlement.invoice_id),
                    int(settlement.amount),
                ],
            );
        }
    }

    fn random_client(&mut self) -> (i64, &'static str) {
        let client = &self.clients[self.rng.below(self.clients.len() as u64) as usize];
        (client.id, client.currency)
    }

    fn quote(&mut self, batch: &mut Batch, ids: &mut Ids) {
        self.done.quotes += 1;
        let (client_id, currency) = self.random_client();
        let status = self.rng.weighted(&[
            (15, "draft"),
            (30, "sent"),
            (20, "approved"),
            (25, "converted"),
            (10, "expired"),
        ]);
        let issue_date = self.random_date();
        let valid_until = self
            .rng
            .percent(85)
            .then(|| issue_date + TimeDelta::days(30));
        let net = self.price(50, 5_000);
        let tax = tax_on(net, self.tax().rate_bp);
        batch.push(
            Table::Quotes,
            [
                int(ids.next(Table::Quotes)),
                int(self.tenant_id),
                int(client_id),
                text(format!("QUO-{:07}", self.done.quotes)),
                text(status),
                date(issue_date),
                Value::Date(valid_until),
                text(currency),
                int(net),
                int(tax),
                int(net + tax),
            ],
        );
    }

    fn credit(&mut self, batch: &mut Batch, ids: &mut Ids) {
        self.done.credits += 1;
        let (client_id, currency) = self.random_client();
        let status = self.rng.weighted(&[
            (10, "draft"),
            (35, "sent"),
            (25, "partial"),
            (30, "applied"),
        ]);
        let total = self.price(10, 500);
        let applied = match status {
            "partial" => total * self.rng.between(10, 90) / 100,
            "applied" => total,
            _ => 0,
        };
        let issue_date = self.random_date();
        batch.push(
            Table::Credits,
            [
                int(ids.next(Table::Credits)),
                int(self.tenant_id),
                int(client_id),
                text(format!("CR-{:07}", self.done.credits)),
                text(status),
                date(issue_date),
                text(currency),
                int(total),
                int(applied),
                int(total - applied),
            ],
        );
    }

    fn expense(&mut self, batch: &mut Batch, ids: &mut Ids) {
        let index = self.done.expenses;
        self.done.expenses += 1;
        // The first three expenses of a tenant have no vendor, no category and no paid
        // date respectively; later ones lack them at random.
        let vendor_id =
            (index != 0 && !self.rng.percent(10)).then(|| *self.rng.pick(&self.vendors));
        let category_id =
            (index != 1 && !self.rng.percent(8)).then(|| *self.rng.pick(&self.categories));
        let expense_date = self.random_date();
        let foreign = self.profile.foreign_currencies;
        let currency = if !foreign.is_empty() && self.rng.percent(10) {
            *self.rng.pick(foreign)
        } else {
            self.profile.currency
        };
        let net = self.price(5, 1_500);
        let tax = tax_on(net, self.tax().rate_bp);
        let paid_date = (index != 2 && !self.rng.percent(15)).then(|| {
            let days = self.rng.between(0, 30);
            self.not_after_anchor(expense_date, days)
        });
        let notes = self.rng.percent(50).then(|| *self.rng.pick(NOTES));
        batch.push(
            Table::Expenses,
            [
                int(ids.next(Table::Expenses)),
                int(self.tenant_id),
                Value::Int(vendor_id),
                Value::Int(category_id),
                text(format!("EXP-{:07}", index + 1)),
                date(expense_date),
                text(currency),
                int(net),
                int(tax),
                int(net + tax),
                Value::Date(paid_date),
                opt_text(notes),
            ],
        );
    }
}

/// The tax on `net` minor units at `rate_bp` basis points, rounded half up.
fn tax_on(net: i64, rate_bp: i64) -> i64 {
    (net * rate_bp + 5_000) / 10_000
}
