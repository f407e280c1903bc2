//! A real single-node Slurm cluster: munged, slurmctld and slurmd from Debian's `slurm-wlm`
//! and `munge` packages, with every state, spool, log and socket file under a temp dir. The
//! test submits the tiny sweep with `carrot sweep slurm --submit`, waits for the 4 array tasks
//! and checks that every run's results landed in the sweep directory.
//!
//! It needs Debian packages and root, so it is `#[ignore]`d in the README's test command and
//! runs in CI as an explicit extra step after `scripts/install-slurm.sh`:
//! `cargo test --release --workspace --test slurm -- --include-ignored`. When asked
//! for, it never skips itself: without the Slurm binaries or without root it fails and says so.

mod common;

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::config;

const BINARIES: [&str; 8] = [
    "munged",
    "mungekey",
    "slurmctld",
    "slurmd",
    "sbatch",
    "squeue",
    "sinfo",
    "hostname",
];
const TASKS: usize = 4;

fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The daemons of the test cluster, stopped by pid when dropped.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
    daemons: Vec<(&'static str, Child)>,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let missing: Vec<&str> = BINARIES
            .into_iter()
            .filter(|b| find_binary(b).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "Slurm is not installed (missing {}): run `sudo scripts/install-slurm.sh` \
             (apt-get install slurm-wlm munge), then rerun the tests",
            missing.join(", ")
        );
        let uid = capture(Command::new("id").arg("-u"));
        assert_eq!(
            uid.trim(),
            "0",
            "the Slurm test starts slurmd and munged, which need root: run it as root (CI does)"
        );
        // munged wants its socket directory reachable by everyone.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["munge", "state", "spool", "log"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
            daemons: Vec::new(),
        };

        let key = dir.join("munge/munge.key");
        let created = Command::new(find_binary("mungekey").unwrap())
            .args(["--create", "--bits=1024", "--keyfile"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(created.success(), "mungekey failed");
        let socket = dir.join("munge/munge.socket");
        let mut munged = Command::new(find_binary("munged").unwrap());
        munged
            .args(["--foreground", "--force"])
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--key-file={}", key.display()))
            .arg(format!(
                "--pid-file={}",
                dir.join("munge/munged.pid").display()
            ))
            .arg(format!(
                "--log-file={}",
                dir.join("log/munged.log").display()
            ))
            .arg(format!(
                "--seed-file={}",
                dir.join("munge/munged.seed").display()
            ));
        cluster.spawn("munged", munged);
        cluster.wait_for("the munge socket", |_| socket.exists());

        let host = capture(Command::new("hostname").arg("-s"))
            .trim()
            .to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let [ctld_port, slurmd_port] = free_ports();
        let d = dir.display();
        let conf = format!(
            "ClusterName=carrottest\n\
             SlurmctldHost={host}\n\
             SlurmctldPort={ctld_port}\n\
             SlurmdPort={slurmd_port}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             StateSaveLocation={d}/state\n\
             SlurmdSpoolDir={d}/spool\n\
             SlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\n\
             SlurmctldLogFile={d}/log/slurmctld.log\n\
             SlurmdLogFile={d}/log/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_CPU\n\
             SchedulerType=sched/builtin\n\
             ReturnToService=2\n\
             MpiDefault=none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             NodeName={host} CPUs={cpus} State=UNKNOWN\n\
             PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            socket = socket.display(),
        );
        fs::write(&cluster.conf, conf).unwrap();

        let mut ctld = Command::new(find_binary("slurmctld").unwrap());
        ctld.args(["-D", "-i", "-f"]).arg(&cluster.conf);
        cluster.spawn("slurmctld", ctld);
        let mut slurmd = Command::new(find_binary("slurmd").unwrap());
        slurmd.args(["-D", "-f"]).arg(&cluster.conf);
        cluster.spawn("slurmd", slurmd);
        cluster.wait_for("the node to come up idle", |cluster| {
            let state = cluster.command("sinfo").args(["-h", "-o", "%T"]).output();
            state.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "idle")
        });
        cluster
    }

    fn spawn(&mut self, name: &'static str, mut command: Command) {
        let log = fs::File::create(self.dir.join(format!("log/{name}.out"))).unwrap();
        command
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.daemons.push((name, child));
    }

    /// A Slurm client command talking to this cluster.
    fn command(&self, name: &str) -> Command {
        let mut command = Command::new(find_binary(name).unwrap_or_else(|| name.into()));
        command.env("SLURM_CONF", &self.conf);
        command
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&Cluster) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(self) {
            let exited = self
                .daemons
                .iter_mut()
                .find_map(|(name, child)| Some((*name, child.try_wait().ok()??)));
            if let Some((name, status)) = exited {
                panic!(
                    "{name} exited ({status}) while waiting for {what}\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The tail of every log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        let mut paths: Vec<PathBuf> = fs::read_dir(self.dir.join("log"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        paths.sort();
        for path in paths {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            out += &format!("--- {}\n{}\n", path.display(), tail.join("\n"));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stop by pid, the node daemon first; SIGTERM, then SIGKILL after a grace period.
        for (_, child) in self.daemons.iter_mut().rev() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
        for (_, child) in self.daemons.iter_mut().rev() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn capture(command: &mut Command) -> String {
    let output = command.output().expect("cannot run a system command");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Two TCP ports free right now on the loopback interface.
fn free_ports() -> [u16; 2] {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ]
}

#[test]
#[ignore = "needs root and Debian's slurm-wlm + munge: run via .ci/run or with --include-ignored"]
fn a_sweep_runs_as_a_slurm_job_array() {
    let dir = tempfile::Builder::new()
        .prefix("carrot-slurm-")
        .tempdir_in("/tmp")
        .unwrap();
    let cluster = Cluster::start(dir.path());
    let out = dir.path().join("sweep");

    let mut submit = common::carrot();
    submit
        .args(["sweep", "slurm"])
        .arg(config("sweeps/tiny.toml"))
        .arg("--out")
        .arg(&out)
        .arg("--submit")
        .env("SLURM_CONF", &cluster.conf)
        .env("PATH", path_with_sbin());
    let output = submit.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "submission failed: {stdout}{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        cluster.logs()
    );
    let job: String = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Submitted batch job "))
        .unwrap_or_else(|| panic!("no job id in: {stdout}"))
        .trim()
        .to_string();

    let runs = out.join("runs");
    let finished = |runs: &Path| {
        fs::read_dir(runs)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("eval.json").is_file())
                    .count()
            })
            .unwrap_or(0)
    };
    let squeue_empty = |cluster: &Cluster| {
        let o = cluster.command("squeue").args(["-h", "-j", &job]).output();
        o.is_ok_and(|o| o.status.success() && o.stdout.is_empty())
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    while !(finished(&runs) == TASKS && squeue_empty(&cluster)) {
        if Instant::now() > deadline {
            let _ = std::io::stderr().write_all(cluster.logs().as_bytes());
            panic!(
                "{} of {TASKS} runs finished before the timeout; task logs in {}",
                finished(&runs),
                out.join("slurm").display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // Every array task left its output, and every run its results, in the sweep directory.
    let task_logs: Vec<String> = fs::read_dir(out.join("slurm"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    for task in 0..TASKS {
        let name = format!("{job}_{task}.out");
        assert!(task_logs.contains(&name), "{name} missing: {task_logs:?}");
    }
    for name in [
        "ppo.minibatch_size=64,seed=1",
        "ppo.minibatch_size=64,seed=2",
        "ppo.minibatch_size=128,seed=1",
        "ppo.minibatch_size=128,seed=2",
    ] {
        let run = runs.join(name);
        for file in [
            "config.toml",
            "metrics.csv",
            "eval.json",
            "run.json",
            "carrot.log",
        ] {
            assert!(run.join(file).is_file(), "{name}/{file} missing");
        }
    }
    let report = common::run_ok(common::carrot().arg("report").arg(&out));
    assert!(
        report.contains("| 64 | 2* |") && report.contains("| 128 | 2* |"),
        "{report}"
    );
    drop(cluster);
}

fn path_with_sbin() -> std::ffi::OsString {
    let mut paths: Vec<PathBuf> =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect();
    paths.extend(["/usr/sbin", "/usr/bin"].map(PathBuf::from));
    std::env::join_paths(paths).unwrap()
}
