//! Who the seeded tenants are: currency, timezone, country, taxes and the words their
//! data uses.

/// A tax rate as invoice lines carry it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Tax {
    /// NULL for lines with no tax at all.
    pub(super) name: Option<&'static str>,
    /// Basis points: 1500 is 15 %.
    pub(super) rate_bp: i64,
}

/// Everything that makes one tenant differ from another.
#[derive(Debug)]
pub(super) struct Profile {
    pub(super) slug: &'static str,
    pub(super) name: &'static str,
    pub(super) currency: &'static str,
    pub(super) timezone: &'static str,
    /// ISO country code of the tenant and of most of its clients.
    pub(super) country: &'static str,
    /// International dialling code, for phone numbers (which start with `+`, like a
    /// spreadsheet formula).
    pub(super) dial_code: u16,
    /// Currencies some of its clients are billed in besides its own: per-currency sums
    /// matter for these tenants.
    pub(super) foreign_currencies: &'static [&'static str],
    pub(super) taxes: &'static [Tax],
    /// Prices are drawn in US dollar cents and multiplied by this, so that rupee and real
    /// amounts look like rupees and reais.
    pub(super) price_scale: i64,
    pub(super) company_suffixes: &'static [&'static str],
    pub(super) cities: &'static [&'static str],
    pub(super) payment_methods: &'static [&'static str],
}

const fn tax(name: &'static str, rate_bp: i64) -> Tax {
    Tax {
        name: Some(name),
        rate_bp,
    }
}

const NO_TAX: Tax = Tax {
    name: None,
    rate_bp: 0,
};

/// The named tenants, in the order they are created; more tenants reuse these profiles
/// under the slugs `tenant-6`, `tenant-7`, ...
pub(super) const PROFILES: &[Profile] = &[
    Profile {
        slug: "acme",
        name: "Acme Corporation",
        currency: "USD",
        timezone: "America/New_York",
        country: "US",
        dial_code: 1,
        foreign_currencies: &["EUR", "CAD"],
        taxes: &[tax("Sales tax", 800), tax("Service tax 15%", 1500), NO_TAX],
        price_scale: 1,
        company_suffixes: &["Inc.", "LLC", "Corp."],
        cities: &["New York", "San Francisco", "Chicago", "Austin", "Boston"],
        payment_methods: &["bank_transfer", "card", "check", "paypal"],
    },
    Profile {
        slug: "globex",
        name: "Globex GmbH",
        currency: "EUR",
        timezone: "Europe/Berlin",
        country: "DE",
        dial_code: 49,
        foreign_currencies: &[],
        taxes: &[
            tax("MwSt 19%", 1900),
            tax("MwSt 7% (ermäßigt)", 700),
            NO_TAX,
        ],
        price_scale: 1,
        company_suffixes: &["GmbH", "AG", "KG"],
        cities: &["Berlin", "München", "Köln", "Düsseldorf", "Zürich"],
        payment_methods: &["bank_transfer", "card", "sepa_debit"],
    },
    Profile {
        slug: "initech",
        name: "Initech \"UK\", Ltd.",
        currency: "GBP",
        timezone: "Europe/London",
        country: "GB",
        dial_code: 44,
        foreign_currencies: &["EUR", "USD"],
        taxes: &[
            tax("VAT 20%", 2000),
            tax("VAT \"reduced\", 5%", 500),
            tax("Zero-rated", 0),
        ],
        price_scale: 1,
        company_suffixes: &["Ltd", "LLP", "plc"],
        cities: &["London", "Manchester", "Edinburgh", "Cardiff", "Belfast"],
        payment_methods: &["bank_transfer", "card", "cash"],
    },
    Profile {
        slug: "umbrella",
        name: "Umbrella Pvt. Ltd.",
        currency: "INR",
        timezone: "Asia/Kolkata",
        country: "IN",
        dial_code: 91,
        foreign_currencies: &[],
        taxes: &[
            tax("GST 18%", 1800),
            tax("GST 12%", 1200),
            tax("GST 5%", 500),
        ],
        price_scale: 80,
        company_suffixes: &["Pvt. Ltd.", "LLP", "& Sons"],
        cities: &["Mumbai", "Bengaluru", "नई दिल्ली", "Chennai", "Kolkata"],
        payment_methods: &["upi", "bank_transfer", "card", "cash"],
    },
    Profile {
        slug: "soylent",
        name: "Soylent Indústria Ltda",
        currency: "BRL",
        timezone: "America/Sao_Paulo",
        country: "BR",
        dial_code: 55,
        foreign_currencies: &[],
        taxes: &[
            tax("ICMS 17%", 1700),
            tax("ISS 5%", 500),
            tax("PIS/COFINS 9,25%", 925),
        ],
        price_scale: 5,
        company_suffixes: &["Ltda", "S.A.", "ME"],
        cities: &[
            "São Paulo",
            "Rio de Janeiro",
            "Belo Horizonte",
            "Curitiba",
            "Recife",
        ],
        payment_methods: &["pix", "boleto", "card", "bank_transfer"],
    },
];

/// The slug of the `index`-th tenant (from 0) and the profile it uses.
pub(super) fn tenant(index: usize) -> (String, &'static Profile) {
    let profile = &PROFILES[index % PROFILES.len()];
    let slug = if index < PROFILES.len() {
        profile.slug.to_owned()
    } else {
        format!("tenant-{}", index + 1)
    };
    (slug, profile)
}
