//! The thread model: by default one worker per CPU of the affinity mask fulcrum starts with,
//! each pinned, never escaping the mask.

mod support;

use std::io::{Read, Write};
use support::*;

fn allowed_cpus(pid: u32, tid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn thread_name(pid: u32, tid: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn taskset_one_cpu_gives_one_worker_pinned_inside_the_mask() {
    let cpus = fulcrum_sys_cpus();
    let cpu = *cpus.last().expect("at least one CPU");
    let echo = TestServer::echo("echo");
    let admin = free_port();
    let listen = free_addr();
    // No `workers` key: the default counts the CPUs in the mask.
    let cfg = format!("[admin]\nlisten = \"127.0.0.1:{admin}\"\n\n")
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &[backend(echo.addr())], "");
    let launch = Launch {
        cpus: Some(cpu.to_string()),
        ..Launch::default()
    };
    let f = Fulcrum::start_with(&cfg, launch);
    let v = f.config_json();
    assert_eq!(
        v["workers"],
        1,
        "one CPU in the mask gives one worker{}",
        f.diag()
    );

    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    s.read_exact(&mut got).unwrap();
    assert_eq!(
        &got,
        b"ping",
        "relay works on the pinned worker{}",
        f.diag()
    );

    let tasks = std::fs::read_dir(format!("/proc/{}/task", f.pid())).unwrap();
    let mut workers = 0;
    for t in tasks {
        let tid = t.unwrap().file_name().into_string().unwrap();
        let mask = allowed_cpus(f.pid(), &tid);
        assert_eq!(
            mask,
            cpu.to_string(),
            "thread {tid} stays inside the mask{}",
            f.diag()
        );
        if thread_name(f.pid(), &tid).starts_with("fulcrum-w") {
            workers += 1;
        }
    }
    assert_eq!(workers, 1, "exactly one worker thread{}", f.diag());
}

#[test]
fn default_workers_are_one_per_cpu_each_pinned_to_its_own() {
    let cpus = fulcrum_sys_cpus();
    let echo = TestServer::echo("echo");
    let admin = free_port();
    let listen = free_addr();
    let cfg = format!("[admin]\nlisten = \"127.0.0.1:{admin}\"\n\n")
        + &listener_toml("l", &listen.to_string(), "c", "")
        + &cluster_toml("c", "round_robin", &[backend(echo.addr())], "");
    let f = Fulcrum::start(&cfg);
    assert_eq!(f.config_json()["workers"], cpus.len(), "{}", f.diag());
    let mut pinned: Vec<String> = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{}/task", f.pid())).unwrap() {
        let tid = t.unwrap().file_name().into_string().unwrap();
        if thread_name(f.pid(), &tid).starts_with("fulcrum-w") {
            pinned.push(allowed_cpus(f.pid(), &tid));
        }
    }
    pinned.sort();
    let mut want: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
    want.sort();
    assert_eq!(pinned, want, "one worker pinned to each CPU{}", f.diag());
}

/// The CPUs this test process may run on (what fulcrum inherits).
fn fulcrum_sys_cpus() -> Vec<usize> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let list = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    let mut cpus = Vec::new();
    for part in list.split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
            None => cpus.push(part.parse().unwrap()),
        }
    }
    cpus
}
