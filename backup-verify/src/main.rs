//! `backup-verify`: not built yet — see the open issue for its scope.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("backup-verify: not implemented yet");
    ExitCode::from(2)
}
