//! `warrant`: run and administer a Warrant authorization server.
//!
//! ```text
//! cargo run --release -- serve                # serve on 127.0.0.1:8080, data in ./warrant-data
//! warrant api create --identifier https://api.example.com --name "Internal API" --scope read:data
//! warrant app create --name worker --grant https://api.example.com=read:data
//! warrant apply warrant.toml --secrets-file new-secrets.json   # configuration as code
//! warrant token --issuer http://127.0.0.1:8080/ --client-id … --client-secret … --audience …
//! ```

mod admin_cmd;
mod cli;
mod deployment;
mod http;
mod serve;
mod token_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&cli.global, args).await,
            Command::Init(args) => admin_cmd::init(&cli.global, args).await,
            Command::Migrate => admin_cmd::migrate(&cli.global).await,
            Command::Keys(cmd) => admin_cmd::keys(&cli.global, cmd).await,
            Command::Logs(args) => admin_cmd::logs(&cli.global, args).await,
            Command::Check => admin_cmd::check(&cli.global).await,
            Command::Admin(cmd) => admin_cmd::operators(&cli.global, cmd).await,
            Command::Api(cmd) => admin_cmd::api(&cli.global, cmd).await,
            Command::App(cmd) => admin_cmd::app(&cli.global, cmd).await,
            Command::Grant(cmd) => admin_cmd::grant(&cli.global, cmd).await,
            Command::Issuer(cmd) => admin_cmd::issuer(&cli.global, cmd).await,
            Command::Token(args) => token_cmd::token(args).await,
            Command::Decode(args) => token_cmd::decode(&args),
            Command::Plan(args) => admin_cmd::plan(&cli.global, args).await,
            Command::Apply(args) => admin_cmd::apply(&cli.global, args).await,
            Command::Export(args) => admin_cmd::export(&cli.global, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
