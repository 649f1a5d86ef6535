//! `milvus-load`: not built yet — see the open issue for its scope.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("milvus-load: not implemented yet");
    ExitCode::from(2)
}
