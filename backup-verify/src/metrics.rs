//! Prometheus text-format metrics for node_exporter's textfile collector,
//! written atomically (a temporary file renamed into place) so the collector
//! never reads half a file.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::problem::Kind;
use crate::report::Report;

const LAST_SUCCESS: &str = "milvus_backup_verify_last_success_timestamp_seconds";

/// Escapes a label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The last-success timestamp recorded in an earlier metrics file.
fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find(|l| l.starts_with(LAST_SUCCESS))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// The metrics text for `report`; `now` in Unix seconds; `previous`: the
/// last success before this run.
pub fn render(report: &Report, now: f64, previous: Option<f64>) -> String {
    let l = format!("location=\"{}\"", label(&report.location));
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{l}}} {value}"
        );
    };
    gauge(
        "milvus_backup_verify_success",
        "1 if the last verification found no problem.",
        u8::from(report.ok).to_string(),
    );
    gauge(
        "milvus_backup_verify_timestamp_seconds",
        "When the last verification ran.",
        format!("{now:.0}"),
    );
    let last_success = if report.ok { Some(now) } else { previous };
    if let Some(t) = last_success {
        gauge(
            LAST_SUCCESS,
            "When a verification last succeeded.",
            format!("{t:.0}"),
        );
    }
    gauge(
        "milvus_backup_verify_rows",
        "Rows in the verified backup.",
        report.rows.to_string(),
    );
    gauge(
        "milvus_backup_verify_bytes",
        "Bytes of the verified backup.",
        report.bytes.to_string(),
    );
    gauge(
        "milvus_backup_verify_parts",
        "Files of the verified backup.",
        report.parts.to_string(),
    );
    gauge(
        "milvus_backup_verify_duration_seconds",
        "How long the verification took.",
        format!("{:.3}", report.seconds),
    );
    gauge(
        "milvus_backup_verify_exit_code",
        "The exit code of the last verification.",
        report.exit_code.to_string(),
    );
    if let Some(age) = report.newest_set_age_seconds {
        gauge(
            "milvus_backup_newest_set_age_seconds",
            "Age of the newest complete backup set.",
            age.to_string(),
        );
    }
    let name = "milvus_backup_verify_failures";
    let _ = writeln!(
        out,
        "# HELP {name} Problems found by the last verification, by kind.\n# TYPE {name} gauge"
    );
    for kind in Kind::ALL {
        let count = report.problems.iter().filter(|p| p.kind == kind).count();
        let _ = writeln!(out, "{name}{{{l},kind=\"{}\"}} {count}", kind.name());
    }
    out
}

/// Writes the metrics for `report` to `path` atomically.
pub fn write(path: &Path, report: &Report) -> Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let text = render(report, now, previous_success(path));
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the metrics directory {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".backup-verify-metrics-")
        .tempfile_in(dir)
        .with_context(|| format!("writing metrics into {}", dir.display()))?;
    std::io::Write::write_all(tmp.as_file_mut(), text.as_bytes())?;
    // Readable by the collector whatever our umask did to the temporary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path)
        .with_context(|| format!("writing metrics to {}", path.display()))?;
    Ok(())
}
