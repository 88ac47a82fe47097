//! `fulcrum demo`: three built-in backends on loopback and a real balancer in front of them.
//!
//! The backends answer any request with a short HTTP/1.1 response naming themselves, so
//! `curl` through the balancer shows round robin at work. The balancer is the same data plane
//! `fulcrum run` starts, from an embedded config.

use crate::cli::DemoArgs;
use anyhow::Context;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BACKENDS: usize = 3;

/// Starts the demo backends, then runs the balancer until Ctrl-C.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let listeners = (0..BACKENDS)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("cannot bind the demo backends")?;
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .map(|l| l.local_addr())
        .collect::<Result<_, _>>()?;
    let text = config_text(&args, &addrs);
    let config = fulcrum_config::parse(&text, "<demo>").map_err(|e| anyhow::anyhow!("{e}"))?;
    std::thread::Builder::new()
        .name("fulcrum-demo".into())
        .spawn(move || serve_backends(listeners))?;
    crate::control::run(config, None, |_| print_banner(&args, &addrs))
}

fn config_text(args: &DemoArgs, backends: &[SocketAddr]) -> String {
    let list: Vec<String> = backends
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{{ address = \"{a}\", weight = {} }}", 1 + (i == 0) as u32))
        .collect();
    let api = backends.last().map(|a| a.to_string()).unwrap_or_default();
    format!(
        r#"# The embedded demo config.
[admin]
listen = "{admin}"

[runtime]
shutdown_timeout = "2s"

[[listener]]
name = "demo-tcp"
bind = "{listen}"
protocol = "tcp"
cluster = "demo"

[[listener]]
name = "demo-http"
bind = "{http}"
protocol = "http"
cluster = "demo"

[[listener.route]]
name = "api"
path_prefix = "/api/"
cluster = "api"
response_headers = {{ set = {{ "x-demo-route" = "api" }} }}

[[cluster]]
name = "demo"
balance = "weighted_round_robin"
connect_timeout = "1s"
backends = [{list}]

[[cluster]]
name = "api"
balance = "least_conn"
backends = ["{api}"]
"#,
        admin = args.admin,
        listen = args.listen,
        http = args.http,
        list = list.join(", ")
    )
}

fn print_banner(args: &DemoArgs, backends: &[SocketAddr]) {
    let list: Vec<String> = backends.iter().map(|a| a.to_string()).collect();
    println!(
        "\nFulcrum demo is running.\n\
         \n  tcp        tcp://{listen}   (weighted round robin, weights 2:1:1)\
         \n  http       http://{http}    (HTTP/1.1 and h2c; /api/ goes to the last backend)\
         \n  backends   {backends}\
         \n  admin      http://{admin}/  (dashboard), /metrics, /config, /healthz\
         \n\nTry:\
         \n  for i in 1 2 3 4 5 6 7 8; do curl -s http://{listen}/; done\
         \n  curl -si http://{http}/api/users\
         \n  curl -s --http2-prior-knowledge http://{http}/\
         \n  curl -s http://{admin}/metrics | grep fulcrum_backend_connections_total\
         \n\nStop with Ctrl-C (connections drain for up to 2s).\n",
        listen = args.listen,
        http = args.http,
        admin = args.admin,
        backends = list.join(", "),
    );
}

/// Runs the demo backends on their own small runtime.
fn serve_backends(listeners: Vec<TcpListener>) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        eprintln!("fulcrum demo: cannot start the backends' runtime");
        return;
    };
    rt.block_on(async move {
        let mut tasks = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            if l.set_nonblocking(true).is_err() {
                continue;
            }
            if let Ok(l) = tokio::net::TcpListener::from_std(l) {
                tasks.push(tokio::spawn(backend(i + 1, l)));
            }
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

async fn backend(n: usize, listener: tokio::net::TcpListener) {
    let me = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let me = me.clone();
        tokio::spawn(answer(conn, n, me));
    }
}

/// Answers requests on one connection: keep-alive unless the client asks to close (or
/// speaks something that is not HTTP, which gets one answer). Bounded in size and time.
async fn answer(mut conn: tokio::net::TcpStream, n: usize, me: String) {
    let mut buf = vec![0u8; 8192];
    loop {
        let mut len = 0;
        let read = async {
            while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => return false,
                    Ok(k) => len += k,
                }
            }
            true
        };
        let complete = matches!(
            tokio::time::timeout(Duration::from_secs(30), read).await,
            Ok(true)
        );
        if len == 0 {
            return;
        }
        let head = String::from_utf8_lossy(&buf[..len]).to_ascii_lowercase();
        let close = !complete || head.contains("connection: close") || !head.contains("http/1.1");
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let body = format!("hello from demo backend {n} ({me}), path {path}\n");
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        if conn.write_all(response.as_bytes()).await.is_err() || close {
            let _ = conn.shutdown().await;
            return;
        }
    }
}
