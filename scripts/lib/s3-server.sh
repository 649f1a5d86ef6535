# shellcheck shell=bash
# Sourced by scripts/test.sh. Owned by the s3-put work: starts the S3-compatible
# test server (SeaweedFS) and exports MP_TEST_S3_ENDPOINT plus AWS credentials.
start_s3_server() {
    :
}
