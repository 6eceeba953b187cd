//! Logs go to stderr, pretty for people or JSON for machines; results go to stdout.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{self, FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::settings::LogFormat;

/// Installs the global subscriber. Later calls (tests) are ignored. The settings have
/// refused a filter that does not parse; one that still fails here logs at info.
pub fn init(filter: &str, format: LogFormat) {
    static FULL_DISK_HOOK: std::sync::Once = std::sync::Once::new();
    FULL_DISK_HOOK.call_once(log_full_disk_panics_as_warnings);
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal, never in files or pipes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _already_set = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .event_format(ListsAsArrays(fmt::format().json()))
            .try_init(),
    };
}

/// The JSON event format, with lists as JSON arrays: tracing records a list
/// (`queues = ?queues`) by its `Debug` text, which the JSON format would print as one
/// string; a field whose text reads as a JSON array is written as that array instead.
struct ListsAsArrays(fmt::format::Format<fmt::format::Json>);

impl<S, N> FormatEvent<S, N> for ListsAsArrays
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::new();
        self.0
            .format_event(context, Writer::new(&mut line), event)?;
        writer.write_str(&lift_arrays(line))
    }
}

/// `line` (one JSON object and a newline) with its event fields that hold a JSON array
/// as text turned into that array; a line that does not parse is kept as it is.
fn lift_arrays(line: String) -> String {
    let Ok(mut object) = serde_json::from_str::<serde_json::Value>(&line) else {
        return line;
    };
    let Some(fields) = object
        .get_mut("fields")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return line;
    };
    for value in fields.values_mut() {
        if let Some(text) = value.as_str().filter(|text| text.starts_with('['))
            && let Ok(array @ serde_json::Value::Array(_)) = serde_json::from_str(text)
        {
            *value = array;
        }
    }
    format!("{object}\n")
}

/// The XLSX library writes its temporary files with `expect`, so a full disk panics
/// its writer thread. quire turns that panic into the write error it is (see
/// `report::writer_failure`); this hook logs it as one warning instead of a crash
/// report with a backtrace. Every other panic is reported as before.
fn log_full_disk_panics_as_warnings() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info
            .payload_as_str()
            .is_some_and(|message| message.contains("StorageFull"))
        {
            tracing::warn!(panic = %info, "the disk is full; the file being written is abandoned");
        } else {
            default(info);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::lift_arrays;

    #[test]
    fn a_list_field_becomes_a_json_array_and_other_fields_stay_as_they_are() {
        let line = r#"{"level":"INFO","fields":{"message":"[not a list","queues":"[\"reports\", \"default\"]","n":3}}"#;
        let lifted: serde_json::Value =
            serde_json::from_str(&lift_arrays(format!("{line}\n"))).unwrap();
        assert_eq!(
            lifted["fields"]["queues"],
            serde_json::json!(["reports", "default"])
        );
        assert_eq!(lifted["fields"]["message"], "[not a list");
        assert_eq!(lifted["fields"]["n"], 3);
        assert_eq!(lift_arrays("not json\n".into()), "not json\n");
    }
}
