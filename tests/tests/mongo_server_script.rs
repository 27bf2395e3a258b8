//! `scripts/mongo-server.sh` keeps one state per server, so two test runs in
//! one checkout never stop each other's server: `tests/scripts/mongo-server-twice.sh`
//! starts two, stops one and checks the other still answers. Without python3
//! (or its venv, or a package index to install SecantusDB from) the script
//! exits 77 and this test prints a loud SKIPPED line; under `CI=true` it fails.

use std::path::Path;
use std::process::Command;

#[test]
fn two_test_servers_in_one_checkout_stop_only_their_own() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("tests/scripts/mongo-server-twice.sh");
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(&root)
        // The script must make its own servers, whatever the run around it uses.
        .env_remove("CYBEXP_TEST_MONGO_STATE")
        .env_remove("CYBEXP_TEST_MONGODB_URI")
        .output()
        .unwrap_or_else(|e| panic!("running bash {}: {e}", script.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => assert!(stderr.contains("mongo-server-twice: ok"), "{stderr}"),
        Some(77) => {
            let _: Option<()> = cybexp_tests::mongo::skip(
                "two_test_servers_in_one_checkout_stop_only_their_own",
                &format!("the test server cannot be installed (python3 with venv and pip needed):\n{stderr}"),
            );
        }
        _ => panic!("{} failed ({}):\n{stderr}", script.display(), output.status),
    }
}
