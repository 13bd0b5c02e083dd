use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = lokal::cli::Cli::parse();
    match lokal::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lokal: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
