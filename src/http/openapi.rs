//! The OpenAPI 3.1 document of `/v1`. The router collects each operation from its
//! handler's annotation as it registers the route, so the document lists exactly what
//! is served; this file adds what belongs to no single operation.

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame: title, tags and the bearer key scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "quire",
        description = "Report runs built from the invoicing database, queued in Redis, \
                       downloaded through short-lived links."
    ),
    modifiers(&BearerKey),
    tags(
        (name = "reports", description = "Enqueue, list, cancel and retry report runs"),
        (name = "downloads", description = "Finished files, behind their download tokens"),
        (name = "queues", description = "What the queues hold, and for which tenants"),
    )
)]
pub(super) struct ApiDoc;

/// `Authorization: Bearer <api key>`, named `api_key` by the operations.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
