//! The `quire` binary: parse the command line, load settings, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use quire::cli::{self, Cli, Command};
use quire::settings::Settings;

/// A command whose reader went away (`quire reports check | head -1`) ends as other
/// command-line tools do, killed by SIGPIPE, instead of panicking in `println!`. Only
/// for commands that print and exit: Rust ignores SIGPIPE so that a server writing to a
/// closed socket gets an error, not death (its sockets send with MSG_NOSIGNAL anyway).
fn end_quietly_when_stdout_closes() {
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

// The worker allocates a few small objects per job on several threads; glibc's
// allocator spent about a fifth of the worker's time in `quire bench queue` profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.prints_and_exits() {
        end_quietly_when_stdout_closes();
    }
    let settings = match Settings::resolve(cli.settings.clone()) {
        Ok(settings) => settings,
        Err(error) => return cli::report_failure(&error.into()),
    };
    quire::telemetry::init(&settings.log, settings.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return cli::report_failure(&error.into()),
    };
    let json = cli.json;
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Migrate => cli::migrate::run(&settings, json).await,
            Command::Seed(args) => cli::seed::run(&settings, args, json).await,
            Command::Render(args) => cli::render::run(&settings, args, json).await,
            Command::Reports(args) => cli::reports::run(&settings, args, json).await,
            Command::Demo(args) => cli::demo::run(&settings, args, json).await,
            Command::Serve => cli::serve::run(&settings).await,
            Command::Work(args) => cli::work::run(&settings, args).await,
            Command::Run(args) => cli::run::run(&settings, args).await,
            Command::Enqueue(args) => cli::enqueue::run(&settings, args, json).await,
            Command::Status { run_id } => cli::enqueue::status(&settings, &run_id, json).await,
            Command::Restart => cli::restart::run(&settings, json).await,
            Command::Failed(args) => cli::failed::run(&settings, args, json).await,
            Command::Queues(args) => cli::queues::run(&settings, args, json).await,
            Command::Keys(args) => cli::keys::run(&settings, args, json).await,
            Command::Bench(args) => cli::bench::run(&settings, args, json).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::report_failure(&error),
    }
}
