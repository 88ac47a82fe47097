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
    format!(
        r#"# The embedded demo config.
[admin]
listen = "{admin}"

[runtime]
shutdown_timeout = "2s"

[[listener]]
name = "demo"
bind = "{listen}"
protocol = "tcp"
cluster = "demo"

[[cluster]]
name = "demo"
balance = "weighted_round_robin"
connect_timeout = "1s"
backends = [{list}]
"#,
        admin = args.admin,
        listen = args.listen,
        list = list.join(", ")
    )
}

fn print_banner(args: &DemoArgs, backends: &[SocketAddr]) {
    let list: Vec<String> = backends.iter().map(|a| a.to_string()).collect();
    println!(
        "\nFulcrum demo is running.\n\
         \n  balancer   tcp://{listen}  (weighted round robin, weights 2:1:1)\
         \n  backends   {backends}\
         \n  admin      http://{admin}/  (dashboard), /metrics, /config, /healthz\
         \n\nTry:\
         \n  for i in 1 2 3 4 5 6 7 8; do curl -s http://{listen}/; done\
         \n  curl -s http://{admin}/metrics | grep fulcrum_backend_connections_total\
         \n\nStop with Ctrl-C (connections drain for up to 2s).\n",
        listen = args.listen,
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
        let Ok((mut conn, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let me = me.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            // Read the request head (bounded in size and time), then answer and close.
            let read = async {
                while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf[len..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => len += k,
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
            let body = format!("hello from demo backend {n} ({me})\n");
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
            let _ = conn.shutdown().await;
        });
    }
}
