//! moto (local AWS): find or create the project's venv, start `moto_server`, stop it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_config::{retry::RetryConfig, BehaviorVersion, Region, SdkConfig};

use crate::template::REGION;

/// The moto version the project pins.
pub const MOTO_SPEC: &str = "moto[dynamodb,events,scheduler,s3]==5.2.5";

/// The venv to use: `$INNDRIVE_MOTO_VENV`, else `<repo root>/.venv-moto`.
pub fn venv_dir(repo_root: &Path) -> PathBuf {
    match std::env::var_os("INNDRIVE_MOTO_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => repo_root.join(".venv-moto"),
    }
}

/// An installed `moto_server` (nothing is created): in `$INNDRIVE_MOTO_VENV`, `<repo root>/.venv-tools`
/// (./dev's), `<repo root>/.venv-moto` or `/work/.venv-moto`, the first that has one. Else the
/// venvs looked in.
pub fn installed_server(repo_root: &Path) -> Result<PathBuf, Vec<PathBuf>> {
    let venvs: Vec<PathBuf> = std::env::var_os("INNDRIVE_MOTO_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .chain([
            repo_root.join(".venv-tools"),
            repo_root.join(".venv-moto"),
            PathBuf::from("/work/.venv-moto"),
        ])
        .collect();
    venvs
        .iter()
        .map(|v| v.join("bin/moto_server"))
        .find(|p| p.exists())
        .ok_or(venvs)
}

/// Makes sure `<venv>/bin/moto_server` exists, creating the venv when it is missing.
pub fn ensure_venv(venv: &Path) -> anyhow::Result<PathBuf> {
    let server = venv.join("bin/moto_server");
    if server.exists() {
        return Ok(server);
    }
    eprintln!(
        "inndrive-local: creating the moto venv {} (python3 -m venv + pip install {MOTO_SPEC} flask flask-cors)",
        venv.display()
    );
    let st = std::process::Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(venv)
        .status()
        .context("running python3 -m venv (is python3 installed?)")?;
    if !st.success() {
        bail!("python3 -m venv {} failed ({st})", venv.display());
    }
    let st = std::process::Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            MOTO_SPEC,
            "flask",
            "flask-cors",
        ])
        .status()
        .context("running pip install moto")?;
    if !st.success() {
        bail!(
            "pip install {MOTO_SPEC} into {} failed ({st})",
            venv.display()
        );
    }
    if !server.exists() {
        bail!("{} still missing after pip install", server.display());
    }
    Ok(server)
}

/// A moto server: started by us (killed on shutdown and on drop) or an external one (MOTO_ENDPOINT).
pub struct Moto {
    pub endpoint: String,
    child: Option<tokio::process::Child>,
}

impl Moto {
    /// An already running moto.
    pub fn external(endpoint: &str) -> Moto {
        Moto {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            child: None,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Starts `moto_server -H 127.0.0.1 -p <free port>` and waits for `GET /moto-api/` to answer 200.
    /// `log` receives moto's output (None: discarded).
    pub async fn start(venv: &Path, log: Option<&Path>) -> anyhow::Result<Moto> {
        let server = ensure_venv(venv)?;
        let port = free_port()?;
        let mut cmd = tokio::process::Command::new(&server);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match log {
            Some(path) => {
                let f = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                cmd.stdout(f.try_clone()?).stderr(f);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", server.display()))?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(r) = client.get(format!("{endpoint}/moto-api/")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if let Some(st) = child.try_wait()? {
                bail!("moto_server exited during start-up ({st})");
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill().await;
                bail!("moto_server did not answer on {endpoint} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Moto {
            endpoint,
            child: Some(child),
        })
    }

    /// Kills moto if we started it.
    pub async fn shutdown(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
    }
}

/// Starts `server` (a `moto_server`) on a free port for the rest of this process's life and returns
/// its endpoint once it answers (30 s at most): the one moto of a test binary, kept in a static,
/// whose end no drop would see. A shell runs moto_server and stops it when its stdin closes, which
/// happens when this process exits, however it exits.
pub fn start_for_process(server: &Path) -> anyhow::Result<String> {
    let port = free_port()?;
    let script = format!(
        "'{}' -H 127.0.0.1 -p {port} >/dev/null 2>&1 & pid=$!; cat >/dev/null; kill $pid",
        server.display()
    );
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto_server")?;
    // Our end of the shell's stdin stays open until the process exits.
    std::mem::forget(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if answers(port) {
            return Ok(format!("http://127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("moto_server did not answer on port {port} within 30 s")
}

/// Whether an HTTP server answers `GET /moto-api/` on the port (blocking, under a second).
fn answers(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"HTTP/1"))
}

/// A free TCP port on 127.0.0.1 (for servers we cannot hand a listener to).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// An SDK configuration pointing at moto (region eu-north-1, test credentials, rustls+ring client).
pub async fn sdk_config_for(endpoint: &str) -> SdkConfig {
    use aws_smithy_http_client::{
        tls::{self, rustls_provider::CryptoMode},
        Builder,
    };
    let http = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(endpoint)
        .region(Region::new(REGION))
        .test_credentials()
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}
