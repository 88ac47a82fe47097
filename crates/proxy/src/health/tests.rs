use super::*;
use crate::Snapshot;

fn config(port: u16, health: &str) -> fulcrum_config::Config {
    let text = format!(
        "[[cluster]]\nname = \"app\"\nbackends = [\"127.0.0.1:{port}\"]\n{health}\n\
         [[cluster]]\nname = \"other\"\nbackends = [\"127.0.0.1:{port}\"]\n"
    );
    fulcrum_config::parse(&text, "test").unwrap()
}

async fn wait_for(cond: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn tasks_follow_reloads_and_mark_backends() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let health = "[cluster.health]\ninterval = \"20ms\"\ntimeout = \"10ms\"\nfall = 2\nrise = 1\n";
    let first = Snapshot::build(config(port, health), None);
    let mut tasks = HashMap::new();
    reconcile(&first, &mut tasks);
    assert_eq!(tasks.len(), 1, "only the cluster with checks");
    let b = Arc::clone(&first.clusters[0].backends[0]);
    assert!(wait_for(|| b.health() == Health::Down).await);
    assert_eq!(b.stats.health_changes.load(Relaxed), 1);
    assert!(b.stats.health_failures.load(Relaxed) >= 2);
    assert_eq!(first.clusters[1].backends[0].health(), Health::Up);

    // The same settings: the task is kept.
    let second = Snapshot::build(config(port, health), Some(&first));
    let before = tasks.values().next().unwrap().handle.id();
    reconcile(&second, &mut tasks);
    assert_eq!(tasks.values().next().unwrap().handle.id(), before);

    // The backend comes back.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    assert!(wait_for(|| b.health() == Health::Up).await);
    assert!(b.ready_since().is_some(), "coming up starts a slow start");

    // Checks removed: no task left, the backend counts as up.
    let down = "[cluster.health]\ninterval = \"1s\"\ntimeout = \"1s\"\n";
    let third = Snapshot::build(config(port, down), Some(&second));
    reconcile(&third, &mut tasks);
    assert_ne!(
        tasks.values().next().unwrap().handle.id(),
        before,
        "settings changed"
    );
    drop(listener);
    b.set_health(Health::Down, 0);
    let fourth = Snapshot::build(config(port, ""), Some(&third));
    reconcile(&fourth, &mut tasks);
    assert!(tasks.is_empty());
    assert_eq!(b.health(), Health::Up);
}
