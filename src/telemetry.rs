//! Logs go to stderr, pretty for people or JSON for machines; results go to stdout.

use tracing_subscriber::EnvFilter;

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
        LogFormat::Json => builder.json().try_init(),
    };
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
