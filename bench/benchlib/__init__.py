"""Fulcrum benchmark harness library (Python 3.11, stdlib only).

Modules:
  procs   - start/stop child processes, pinning, cleanup on exit/signals, ports
  cpu     - CPU time of processes (/proc/PID/task/*/schedstat) and of the host
  peers   - installing and configuring peers: nginx, iperf3, haproxy, Fulcrum
  loadgen - load generators: wrk, iperf3 client
  model   - Metric / Check / Scenario / Target definitions used by suites
  runner  - the alternating, pinned round runner
  report  - Markdown table and JSON output
"""
