//! What the throw-away database servers have in common: a private directory, a
//! free loopback port, running as the server's own system user when we are root,
//! and the "guardian" that stops the server and removes its files when this
//! process lets go of it.
//!
//! The guardian is a small bash script, started in its own session (`setsid`) with
//! its stdin a pipe from this process. It runs the server in the background with
//! output appended to a log file in the server's directory. When the pipe closes
//! (the server handle is dropped, or the test binary exits, even by a signal), it
//! sends the server its shutdown signal, waits for it, and removes the directory
//! (and optionally one more). If the server stops on its own (it could not start)
//! the guardian exits with status 3 and leaves the directory, so the caller can
//! read the log.

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// Whether this process runs as root (database servers refuse to, so they run as
/// their own system user instead).
pub fn effective_uid_is_root() -> bool {
    // The owner of /proc/self is the process's effective uid.
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The uid and gid of the system user `name`; `package` is what creates it.
pub fn system_user_ids(name: &str, package: &str) -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, name])
            .output()
            .map_err(|e| format!("run id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                format!(
                    "running as root, but there is no `{name}` user to run the server as \
                     (the Debian `{package}` package creates it)"
                )
            })
    };
    Ok((id("-u")?, id("-g")?))
}

/// A fresh directory for one server: under `/tmp` when root (so the server's user
/// can reach it), else under the temporary directory. The caller removes it.
pub fn fresh_dir(prefix: &str) -> Result<PathBuf, String> {
    let parent = if effective_uid_is_root() {
        PathBuf::from("/tmp")
    } else {
        std::env::temp_dir()
    };
    Ok(tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?
        .keep())
}

/// Set `path`'s mode and, when `owner` is given, its owner.
pub fn give(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> Result<(), String> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| format!("chown {}: {e}", path.display()))?;
    }
    Ok(())
}

/// `program` run as the system user `user` when `as_root` (setpriv execs, so the
/// process id is the server's own), else as it is.
pub fn run_as(as_root: bool, user: &str, program: &Path) -> Command {
    if as_root {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={user}"))
            .arg(format!("--regid={user}"))
            .args(["--init-groups", "--"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Run `command` to its end; an error carries its output.
pub fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command.output().map_err(|e| match e.kind() {
        ErrorKind::NotFound => format!("{what}: program not found ({e})"),
        _ => format!("{what}: {e}"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// How the guardian runs one server.
pub struct Guarded<'a> {
    /// The server's directory (removed when the server stops as asked).
    pub dir: &'a Path,
    /// The log file in `dir` the server's output is appended to.
    pub log_name: &'a str,
    /// The signal that shuts the server down cleanly (`INT`, `TERM`).
    pub stop_signal: &'a str,
    /// Another directory to remove with `dir`.
    pub also_remove: Option<&'a Path>,
    /// A name for `ps` listings and error messages.
    pub label: &'a str,
}

/// Start `server` under the guardian (see the module docs).
pub fn spawn_guardian(
    guarded: &Guarded<'_>,
    server: &Command,
) -> Result<(Child, ChildStdin), String> {
    const GUARDIAN: &str = r#"
dir=$1; log=$2; sig=$3; also=$4; shift 4
exec 3<&0 0</dev/null
"$@" >>"$dir/$log" 2>&1 3<&- &
server=$!
( read -r _ <&3; : >"$dir/.stopping"; kill -"$sig" "$server" 2>/dev/null ) &
watcher=$!
exec 3<&-
wait "$server"
if [ ! -e "$dir/.stopping" ]; then
    # The server stopped on its own: leave its log for the caller.
    kill "$watcher" 2>/dev/null
    exit 3
fi
rm -rf "$dir"
if [ -n "$also" ]; then rm -rf "$also"; fi
"#;
    // In its own session (`setsid`), so a Ctrl-C to the tests does not kill the
    // guardian before it has cleaned up; the pipe still tells it when to stop.
    let mut guardian = Command::new("setsid");
    guardian
        .args(["--wait", "bash", "-c"])
        .arg(GUARDIAN)
        .arg(format!("{}-guardian", guarded.label))
        .arg(guarded.dir)
        .arg(guarded.log_name)
        .arg(guarded.stop_signal)
        .arg(guarded.also_remove.unwrap_or(Path::new("")))
        .arg(server.get_program())
        .args(server.get_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = guardian
        .spawn()
        .map_err(|e| format!("start bash (needed to supervise {}): {e}", guarded.label))?;
    let stdin = child.stdin.take().expect("piped stdin");
    Ok((child, stdin))
}

/// A port nobody listens on right now (bind port 0, read it, let it go).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("find a free loopback port: {e}"))
}
