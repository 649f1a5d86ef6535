//! Credentials: AWS_PROFILE with the shared files; refused credentials give a
//! clear message that never contains the secret.

use crate::util::*;
use pipes_cli::Exit;

#[test]
fn aws_profile_from_shared_files_and_no_secret_in_errors() {
    let ep = s3_endpoint();
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("credentials");
    let config = dir.path().join("config");
    std::fs::write(
        &creds,
        format!(
            "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong-default-secret\n\n\
             [backup]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = us-east-1\nendpoint_url = {ep}\n\n\
             [profile backup]\nregion = us-east-1\nendpoint_url = {ep}\n"
        ),
    )
    .unwrap();
    let url = format!("{}profile.txt", s3_prefix("profile"));
    let with_files = |profile: &str, tool_name: &str| {
        let mut c = tool(tool_name, &ep);
        c.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_ENDPOINT_URL") // from the profile's endpoint_url
            .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_PROFILE", profile)
            .env("HOME", dir.path());
        c
    };
    let mut put = with_files("backup", "s3-put");
    put.arg(&url);
    run(put, b"from a profile").ok();
    assert_eq!(s3_fetch(&url, &ep), b"from a profile");

    // The default profile's secret is wrong: refused, with a hint, and the
    // secret appears nowhere in the output.
    let mut get = with_files("default", "s3-get");
    get.args([&url, "--max-retries", "0"]);
    let r = run(get, b"");
    r.expect_code(Exit::Denied);
    assert!(
        r.stderr.contains("hint: the store refused the credentials"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("wrong-default-secret"), "{}", r.stderr);
    assert!(!r.stdout_text().contains("wrong-default-secret"));
}
