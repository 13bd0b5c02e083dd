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
    /// The configuration file; `lokal.toml` is read if it exists. `LOKAL_*` variables override.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum DirectoryCommand {
    /// List the rooms Lokal sees in the directory, with the mapped attributes.
    Rooms {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Check a login: prompts for the password, then shows the person and roles, or why not.
    CheckLogin {
        /// The login (uid, or sAMAccountName with the active-directory preset).
        user: String,
        /// Read the password from standard input instead of prompting (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine: the API, the service endpoints, room sync and hold expiry.
    ///
    /// On the embedded defaults it uses SQLite (data/lokal.db), seed/directory.ldif and
    /// seed/policies.toml, and creates demo bookings on first start.
    Serve {
        /// The address to listen on (default: server.listen, 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Print the configuration in effect (defaults, then lokal.toml, then LOKAL_*) as TOML:
    /// a starting point for a lokal.toml. Secrets are left out.
    GenConfig,
    /// Copy the rooms from the directory into the store: add new ones, update changed ones,
    /// retire the ones that left (their bookings stay). Prints what changed.
    SyncDirectory,
    /// Inspect the directory as Lokal sees it, for administrators setting up a mapping.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
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
        Command::Serve { listen } => {
            let config = crate::config::Config::load(cli.config.as_deref())?;
            init_logging(config.server.log_format);
            block_on(crate::startup::run(config, listen))
        }
        Command::GenConfig => {
            let mut config = crate::config::Config::load(cli.config.as_deref())?;
            let had_password = !config.directory.bind_password.is_empty();
            config.directory.bind_password.clear();
            println!("# Lokal configuration: save as lokal.toml and edit. Every key is optional.");
            println!(
                "# Environment variables override it: LOKAL_DIRECTORY__URL, LOKAL_STORE__URL, ..."
            );
            if had_password {
                println!("# directory.bind_password is set but not shown: put it here, or use");
                println!("# bind_password_file or LOKAL_DIRECTORY__BIND_PASSWORD.");
            }
            let mut hidden_secrets = false;
            for hook in &mut config.notify.webhooks {
                hidden_secrets |= !hook.secret.is_empty();
                hook.secret.clear();
            }
            if hidden_secrets {
                println!("# notify.webhooks secrets are set but not shown: put them back, or use");
                println!("# secret_file.");
            }
            print!(
                "{}",
                toml::to_string_pretty(&config).context("writing the configuration as TOML")?
            );
            Ok(())
        }
        Command::SyncDirectory => {
            let config = crate::config::Config::load(cli.config.as_deref())?;
            block_on(sync_directory(&config))
        }
        Command::Directory { command } => {
            let config = crate::config::Config::load(cli.config.as_deref())?;
            block_on(directory_command(&config, command))
        }
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

/// Runs an async command on a runtime of its own.
fn block_on(command: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(command)
}

use crate::startup::open_directory;

/// Structured logs on standard error, as text or JSON lines (`server.log_format`), filtered
/// by `RUST_LOG` (default `info`). Each request's span carries its request id.
fn init_logging(format: crate::config::LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == crate::config::LogFormat::Json {
        let _ = builder.json().try_init();
    } else {
        let _ = builder.try_init();
    }
}

async fn sync_directory(config: &crate::config::Config) -> anyhow::Result<()> {
    let directory = open_directory(config).await?;
    let rules = crate::startup::load_rules(config)?;
    let rooms = directory.rooms().await?;
    // Nothing is stored when a room names a policy the file lacks.
    crate::startup::check_room_policies(&rooms, &rules, &config.scheduling.policies)?;
    let store = crate::store::Store::open(&config.store.url).await?;
    let report = store.sync_rooms(&rooms, crate::clock::now()).await?;
    println!(
        "{} rooms in the directory: {} added, {} updated, {} unchanged, {} restored, {} retired",
        rooms.len(),
        report.added,
        report.updated,
        report.unchanged,
        report.restored,
        report.retired
    );
    for refused in &report.refused_parts {
        println!(
            "the new parts of room {} were not stored: its coming bookings would overlap \
             others ({}); cancel or move them and sync again",
            refused.room_id,
            refused.booking_ids.join(", ")
        );
    }
    Ok(())
}

async fn directory_command(
    config: &crate::config::Config,
    command: DirectoryCommand,
) -> anyhow::Result<()> {
    use crate::directory::DirectoryError;
    let directory = open_directory(config).await?;
    match command {
        DirectoryCommand::Rooms { format } => {
            let rooms = directory.rooms().await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&rooms)?),
                Format::Text => print!("{}", rooms_table(&rooms)),
            }
            // The listing is shown either way; a policy the file lacks makes it fail after.
            let rules = crate::startup::load_rules(config)?;
            crate::startup::check_room_policies(&rooms, &rules, &config.scheduling.policies)
        }
        DirectoryCommand::CheckLogin {
            user,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                rpassword::prompt_password(format!("Password for {user}: "))
                    .context("reading the password")?
            };
            match directory.authenticate(&user, &password).await {
                Ok(person) => {
                    let roles = directory.roles(&person).await?;
                    println!("Login OK: {} ({})", person.name, person.login);
                    println!("  id:     {}", person.id);
                    println!("  dn:     {}", person.dn);
                    if let Some(mail) = &person.email {
                        println!("  email:  {mail}");
                    }
                    let mut names = vec!["staff"];
                    if roles.clerk {
                        names.push("clerk");
                    }
                    if roles.admin {
                        names.push("admin");
                    }
                    println!("  roles:  {}", names.join(", "));
                    println!("  groups:");
                    for g in &roles.groups {
                        println!("    {g}");
                    }
                    Ok(())
                }
                Err(DirectoryError::InvalidCredentials) => {
                    anyhow::bail!("login refused: invalid login or password")
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn rooms_table(rooms: &[crate::directory::DirRoom]) -> String {
    let headers = [
        "NAME",
        "BUILDING",
        "CAPACITY",
        "POLICY",
        "TYPE",
        "EQUIPMENT",
        "ID",
    ];
    let rows: Vec<[String; 7]> = rooms
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.building.clone().unwrap_or_default(),
                r.capacity.map(|c| c.to_string()).unwrap_or_default(),
                r.policy.clone().unwrap_or_default(),
                r.resource_type.clone().unwrap_or_default(),
                r.equipment.join(","),
                r.id.clone(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(headers.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out.push_str(&format!("{} rooms\n", rooms.len()));
    out
}
