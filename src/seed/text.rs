//! The words the demo data is made of, hostile ones included: quotes, commas, newlines,
//! non-Latin scripts, right-to-left text, emoji, and text that spreadsheets would take
//! for a formula.

/// Client names that every seeded tenant has, the first clients of its list: each one
/// breaks a naive CSV or XLSX writer in its own way.
pub const HOSTILE_NAMES: &[&str] = &[
    "Acme \"Quoted\" Corp",
    "Smith, Jones & Partners, LLC",
    "Line one\nLine two Ltd",
    "Carriage\r\nReturn Inc.",
    "株式会社 山田商事",
    "Ωmega Σystems Α.Ε.",
    "Müller & Söhne GmbH",
    "עברית בע\"מ",
    "Rocket 🚀 Emoji Co 🎉",
    "Иванов и партнёры",
    "مؤسسة النور",
    "=HYPERLINK(\"x\")",
    "=cmd|' /C calc'!A0",
    "+1-555",
    "-5",
    "@SUM(A1)",
    "＝1+1",
    "\tTabbed Ltd",
    "\rReturn first",
    "NULL",
    "  Padded Spaces Inc.  ",
    "O'Brien's \"Best\", Ltd.\n(Dublin)",
];

/// How many characters the longest invoice item description has: more than an XLSX
/// cell holds (32,767), so writers must truncate it.
pub const LONG_DESCRIPTION_CHARS: usize = 40_000;

/// An item description longer than an XLSX cell, with multi-byte characters so that
/// truncation by bytes instead of characters shows.
pub(super) fn long_description() -> String {
    "Detailed work log — Arbeitsbericht 作業記録 «ünïcødé», line; "
        .chars()
        .cycle()
        .take(LONG_DESCRIPTION_CHARS)
        .collect()
}

pub(super) const SURNAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "Rossi",
    "Dubois",
    "Tanaka",
    "Kowalski",
    "Silva",
    "Patel",
    "Nguyen",
    "O'Connor",
    "Andersson",
    "Novák",
    "Cohen",
    "Kim",
    "Haddad",
    "Okafor",
    "Schmidt",
    "Martin",
    "Ivanova",
    "Fernández",
    "Yılmaz",
    "Bianchi",
];

pub(super) const INDUSTRIES: &[&str] = &[
    "Logistics",
    "Consulting",
    "Bakery",
    "Software",
    "Design",
    "Builders",
    "Foods",
    "Media",
    "Analytics",
    "Textiles",
    "Motors",
    "Dental",
    "Architects",
    "Robotics",
    "Farms",
];

pub(super) const FIRST_NAMES: &[&str] = &[
    "Anna",
    "José",
    "Zoë",
    "Søren",
    "Priya",
    "Wei",
    "Ελένη",
    "Олег",
    "Fatima",
    "Liam",
    "Chloé",
    "Björn",
    "Aiko",
    "Mateus",
    "Noa",
    "\"Bobby\"",
    "Ngozi",
    "Łukasz",
];

pub(super) const STREETS: &[&str] = &[
    "Main Street",
    "Hauptstraße",
    "Rue de la Paix",
    "Rua Augusta",
    "MG Road",
    "High Street",
    "Calle Mayor",
    "Königsallee",
];

pub(super) const PRODUCT_ADJECTIVES: &[&str] = &[
    "Premium",
    "Basic",
    "Deluxe",
    "Eco",
    "Smart",
    "Compact",
    "Industrial",
    "Ultra",
];

pub(super) const PRODUCT_NOUNS: &[&str] = &[
    "Widget",
    "Gadget",
    "Support plan",
    "Consulting hour",
    "License",
    "Cable",
    "Sensor",
    "Workshop",
    "Subscription",
    "Toner",
];

/// Product names every tenant has, its first products.
pub(super) const HOSTILE_PRODUCTS: &[&str] = &[
    "Widget 12\" (30 cm)",
    "Bolts, nuts & washers",
    "Multi-line\nproduct",
    "=SUM(1+1)",
    "-10% discount voucher",
    "Kaffee „Spezial“ für das Büro",
    "コーヒー豆 1kg",
    "Emoji pack 😀👍",
];

/// Descriptions of invoice lines that name no product.
pub(super) const CUSTOM_LINES: &[&str] = &[
    "Travel expenses, on-site visit",
    "Hours: 3.5 @ 120/h",
    "Setup fee\n(one-off)",
    "Rush delivery \"express\"",
    "@SUM(A1)",
    "+1-555",
    "=HYPERLINK(\"x\")",
    "＝1+1",
    "\tIndented line",
    "Réparation du matériel",
    "保守サービス",
    "שירות תמיכה",
];

pub(super) const VENDORS: &[&str] = &[
    "Staples, Inc.",
    "Büro & Co. \"Papier\"",
    "東京電力",
    "+44 Telecom",
    "@Cloud Hosting",
    "Amazon Web Services",
    "Office Depot",
    "Delta Air Lines",
    "WeWork",
    "Adobe",
    "Local Café",
    "Deutsche Bahn",
];

pub(super) const EXPENSE_CATEGORIES: &[&str] = &[
    "Travel",
    "Software",
    "Office, supplies",
    "Meals & \"Entertainment\"",
    "Équipement",
    "Rent\nand utilities",
    "=Formula costs",
    "Marketing",
    "Insurance",
    "Telecom",
];

pub(super) const NOTES: &[&str] = &[
    "Reimbursable",
    "Client dinner, 4 people",
    "Receipt lost;\nsee e-mail",
    "-5 % early payment",
    "=1+1",
    "Quittung „fehlt“",
    "領収書あり",
];

/// Payment references typed by hand in a bank app.
pub(super) const REFERENCES: &[&str] = &[
    "=HYPERLINK(\"x\")",
    "+1-555",
    "-5",
    "@SUM(A1)",
    "＝1+1",
    "\tTAB-REF",
    "Invoice 12, 13 & 14",
];
