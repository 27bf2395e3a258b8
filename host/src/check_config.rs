//! `check-config`: everything `run` would load, checked the way `run` loads
//! it, each problem listed instead of the first one stopping the rest (as
//! `vector validate` does). The unit runs it as `ExecStartPre=`, so a bad
//! config fails the start with every reason in the journal, before any
//! entry is claimed.
//!
//! Each check calls the function the daemon's start calls (`Settings`,
//! the telemetry's own `StatusConfig` and `MetricsConfig`, …): there is one
//! decision, made in one place.
//! Nothing is claimed or changed in the stores: reachability is a read.

use std::fmt;
use std::net::TcpListener;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::context::Settings;
use crate::verdict::EXIT_CONFIG;

/// What one check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Status {
    Ok(String),
    /// The daemon would start, but without something (it logs the same).
    Warn(String),
    /// The daemon would not start.
    Failed(String),
}

/// A named check and what it found.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
}

impl Check {
    fn new(name: &'static str, status: Status) -> Check {
        Check { name, status }
    }

    fn of<T>(name: &'static str, result: anyhow::Result<T>, ok: impl FnOnce(T) -> String) -> Check {
        Check::new(name, result.map_or_else(|e| Status::Failed(reason(&e)), |v| Status::Ok(ok(v))))
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, text) = match &self.status {
            Status::Ok(text) => ("ok", text),
            Status::Warn(text) => ("warn", text),
            Status::Failed(text) => ("FAILED", text),
        };
        // One line per check; a reason of several lines (a TOML error's
        // excerpt) continues indented under it.
        let mut lines = text.trim_end().lines();
        write!(f, "{word:<7}{:<10}{}", self.name, lines.next().unwrap_or_default())?;
        lines.try_for_each(|line| write!(f, "\n{:17}{line}", ""))
    }
}

/// An error and its causes, as `{:#}` writes them, less a cause that its
/// error already quoted (the keys' I/O errors say their cause themselves).
fn reason(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain().map(ToString::to_string) {
        if !text.ends_with(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

/// Runs every check, prints one line each and a verdict; exits 0 when
/// `run` would start, [`EXIT_CONFIG`] when it would not.
pub fn run(config_file: Option<&Path>, data_dir: Option<&Path>) -> ExitCode {
    let checks = checks(config_file, data_dir);
    for check in &checks {
        println!("{check}");
    }
    let failed = checks.iter().filter(|c| matches!(c.status, Status::Failed(_))).count();
    if failed == 0 {
        println!("the archiver would start");
        ExitCode::SUCCESS
    } else {
        println!("the archiver would not start: {failed} problem(s)");
        ExitCode::from(EXIT_CONFIG)
    }
}

/// Every check, in the order `run` meets them. A config that does not load
/// is the one problem that stops the rest (they all read it).
pub fn checks(config_file: Option<&Path>, data_dir: Option<&Path>) -> Vec<Check> {
    let ctx = match Settings::load(config_file, data_dir) {
        Ok(ctx) => ctx,
        Err(e) => return vec![Check::new("config", Status::Failed(reason(&e)))],
    };
    let source = config_file.map_or_else(|| "none: the defaults".to_owned(), |p| p.display().to_string());
    let mut checks = vec![Check::new("config", Status::Ok(source))];
    checks.push(Check::of("keys", ctx.keyring(false), |ring| {
        let ids: Vec<_> = ring.keys().iter().map(|k| format!("{} ({})", k.fingerprint(), k.kind())).collect();
        format!("{} private key(s): {}", ids.len(), ids.join(", "))
    }));
    checks.extend(parsers(&ctx));
    checks.push(store(&ctx));
    checks.push(socket(&ctx));
    checks.push(metrics(&ctx));
    checks
}

/// The sandbox as the daemon loads it: parser components with their
/// budgets, then routes; one line per problem.
fn parsers(ctx: &Settings) -> Vec<Check> {
    use crate::context::SandboxProblem;
    let (sandbox, problems) = match ctx.load_sandbox() {
        Ok(loaded) => loaded,
        Err(e) => return vec![Check::new("parsers", Status::Failed(reason(&e)))],
    };
    let (parser_problems, route_problems): (Vec<_>, Vec<_>) =
        problems.into_iter().partition(|p| matches!(p, SandboxProblem::Parser(_)));
    let mut checks = Vec::new();
    if parser_problems.is_empty() {
        let names: Vec<_> = sandbox.parsers().map(|p| format!("{}@{}", p.name, p.version)).collect();
        checks.push(Check::new("parsers", Status::Ok(format!("{} loaded: {}", names.len(), names.join(", ")))));
    }
    checks.extend(parser_problems.iter().map(|p| Check::new("parsers", Status::Failed(p.to_string()))));
    if route_problems.is_empty() {
        checks.push(Check::new("routes", Status::Ok(format!("{} typtags routed", ctx.config.routes().len()))));
    }
    checks.extend(route_problems.iter().map(|p| Check::new("routes", Status::Failed(p.to_string()))));
    checks
}

/// The stores open, the lake answers a count and the archive a ping within
/// the store's timeout (nothing is claimed, nothing changes).
fn store(ctx: &Settings) -> Check {
    let reached = ctx.open_stores().and_then(|stores| {
        let depth = stores.lake.queue_depth()?;
        // The archive may be on another server (MongoDB's `archive_uri`).
        stores.archive.ping()?;
        Ok(format!(
            "{} answers ({} waiting); archive {}",
            cybexp_lake::redact_credentials(&stores.lake.describe()),
            depth.waiting,
            cybexp_lake::redact_credentials(&stores.archive.describe())
        ))
    });
    Check::of("store", reached, |text| text)
}

/// The status socket's path and group, as the daemon resolves them. A
/// socket the daemon cannot bind is no failed start (it warns), so a
/// missing directory is a warning here too.
fn socket(ctx: &Settings) -> Check {
    if !ctx.config.status.enabled {
        return Check::new("socket", Status::Ok("off (status.enabled = false)".into()));
    }
    let status = &ctx.config.status;
    let resolved = ctx.socket_path(None).and_then(|path| {
        let options = status.socket_options(&path).context("status.group")?;
        Ok((path, options))
    });
    match resolved {
        Err(e) => Check::new("socket", Status::Failed(reason(&e))),
        Ok((path, _)) if !path.parent().is_some_and(Path::is_dir) => Check::new(
            "socket",
            Status::Warn(format!(
                "{}: its directory does not exist; `top` and `status` could not connect",
                path.display()
            )),
        ),
        Ok((path, _)) => Check::new("socket", Status::Ok(path.display().to_string())),
    }
}

/// The metrics address under the daemon's rule (loopback unless allowed),
/// and whether it can be bound now (a listener that cannot be bound is a
/// warning, as in the daemon).
fn metrics(ctx: &Settings) -> Check {
    match ctx.config.metrics.address() {
        Err(e) => Check::new("metrics", Status::Failed(reason(&anyhow::Error::new(e)))),
        Ok(None) => Check::new("metrics", Status::Ok("off (no metrics.listen)".into())),
        Ok(Some(addr)) => match TcpListener::bind(addr) {
            Ok(_) => Check::new("metrics", Status::Ok(format!("http://{addr}/metrics"))),
            Err(e) => Check::new("metrics", Status::Warn(format!("{addr} cannot be bound now: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn a_reason_quotes_each_cause_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let quoted = anyhow::Error::new(io()).context(format!("/etc/k.pem: {}", io()));
        assert_eq!(reason(&quoted), "/etc/k.pem: No such file or directory");
        let nested = anyhow::Error::new(io()).context("reading config /etc/a.toml");
        assert_eq!(reason(&nested), "reading config /etc/a.toml: No such file or directory");
        assert_eq!(reason(&anyhow::anyhow!("plain")), "plain");
    }
}
