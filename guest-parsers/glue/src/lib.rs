//! Bindings for the `cybexp:parser` world, generated once and shared by every
//! parser component. A parser crate exposes a native
//! `fn(&ParseInput) -> Result<RawDoc, ParseFailure>` and turns it into a
//! component with [`parser_component!`] in a wasm32-only module.
//!
//! The bindings exist on wasm32 only; on other targets this crate is just
//! [`mem`], so its tests run natively.

#[cfg(target_arch = "wasm32")]
#[allow(clippy::all, unsafe_op_in_unsafe_fn)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "parser",
        pub_export_macro: true,
        default_bindings_module: "cybexp_guest_glue::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
mod heap;
pub mod mem;

#[cfg(target_arch = "wasm32")]
pub use bindings::Guest;
#[cfg(target_arch = "wasm32")]
pub use bindings::cybexp::parser::types::{Event, Failure, ParserInfo, RawDocument, RecordCounts};
#[cfg(target_arch = "wasm32")]
pub use cybexp_tahoe as tahoe;

/// Converts between the WIT records and the native parser types.
#[cfg(target_arch = "wasm32")]
pub fn call(
    event: Event,
    parse: fn(&tahoe::ParseInput<'_>) -> Result<tahoe::RawDoc, tahoe::ParseFailure>,
) -> Result<RawDocument, Failure> {
    let input = tahoe::ParseInput {
        typtag: &event.typtag,
        orgid: &event.orgid,
        timezone: &event.timezone,
        sub_type: &event.sub_type,
        plaintext: &event.plaintext,
    };
    match parse(&input) {
        Ok(doc) => Ok(RawDocument {
            sub_type: doc.sub_type,
            data_json: doc.data_json,
            hash: doc.hash,
            counts: RecordCounts {
                records: doc.counts.records,
                malformed: doc.counts.malformed,
                first_malformed: doc.first_malformed,
            },
        }),
        Err(tahoe::ParseFailure::InvalidInput(reason)) => Err(Failure::InvalidInput(reason)),
        Err(tahoe::ParseFailure::NotSupported(reason)) => Err(Failure::NotSupported(reason)),
    }
}

/// Exports a native parse function as this crate's parser component.
///
/// ```ignore
/// #[cfg(target_arch = "wasm32")]
/// cybexp_guest_glue::parser_component!(name: "json", parse: crate::parse);
/// ```
#[macro_export]
macro_rules! parser_component {
    (name: $name:expr, parse: $parse:path) => {
        struct ParserComponent;

        impl $crate::Guest for ParserComponent {
            fn info() -> $crate::ParserInfo {
                $crate::ParserInfo { name: $name.into(), version: env!("CARGO_PKG_VERSION").into() }
            }

            fn parse(event: $crate::Event) -> Result<$crate::RawDocument, $crate::Failure> {
                $crate::call(event, $parse)
            }
        }

        $crate::bindings::export!(ParserComponent with_types_in $crate::bindings);
    };
}
