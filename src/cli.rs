//! The `lokal` command line.

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::explain::{Scenario, ScenarioPaths, render_text};

#[derive(Parser, Debug)]
#[command(
    name = "lokal",
    version,
    about = "Lokal: public-space booking engine for municipalities"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decide a booking request from files and print the decision with every reason.
    ///
    /// Policy authors use it to ask "what if": change the policy, the request or the existing
    /// bookings and run it again.
    Explain {
        /// The request file (TOML: [room], [requester], [request]); see seed/requests/.
        request: PathBuf,
        /// The policy file.
        #[arg(long, default_value = "seed/policies.toml")]
        policies: PathBuf,
        /// The folder holding the closure calendars the policy names (NAME.ics).
        #[arg(long, default_value = "calendars")]
        calendars: PathBuf,
        /// An extra closure calendar (.ics) to apply; may be repeated.
        #[arg(long = "closures")]
        closures: Vec<PathBuf>,
        /// Existing bookings and clerks' blocks (TOML: [[booking]], [[block]]).
        #[arg(long)]
        bookings: Option<PathBuf>,
        /// The instant to decide at (RFC 3339, e.g. 2027-01-10T12:00:00Z); the clock if absent.
        #[arg(long)]
        now: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Explain {
            request,
            policies,
            calendars,
            closures,
            bookings,
            now,
            format,
        } => {
            let now: DateTime<Utc> = match now {
                Some(text) => DateTime::parse_from_rfc3339(text.trim())
                    .with_context(|| {
                        format!("--now {text:?}: use RFC 3339, e.g. 2027-01-10T12:00:00Z")
                    })?
                    .with_timezone(&Utc),
                None => crate::clock::now(),
            };
            let scenario = Scenario::load(&ScenarioPaths {
                request,
                policies,
                calendars,
                closures,
                bookings,
            })?;
            let decision = scenario.decide(now);
            match format {
                Format::Text => print!("{}", render_text(&scenario, &decision, now)),
                Format::Json => println!("{}", serde_json::to_string_pretty(&decision)?),
            }
            Ok(())
        }
    }
}
