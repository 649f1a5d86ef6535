"""Checks the ready-to-edit schedules under k8s/: every YAML file parses, every
Kubernetes object has apiVersion, kind and a name, every CronJob has a valid
five-field schedule and runs a script that exists, at the path the image
holds it (/opt/milvus-pipes/scripts), from the image this repository builds
(REGISTRY/milvus-pipes:RELEASE, the release in Cargo.toml, as
scripts/build-image.sh tags it), the alert rules have an alert name and an
expression, a sharded-dump Job is Indexed with one pod per shard, and the
crontab's lines schedule existing scripts. (No cluster here, so `kubectl apply --dry-run=client` cannot run:
it needs an API server even in client mode.)

    python tests/e2e/k8s_manifests.py        # exit 1 on the first problem
"""

import pathlib
import re
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = re.compile(r"scripts/([a-z-]+\.sh)|\$MP/([a-z-]+\.sh)")
CRON_FIELD = re.compile(r"^[\d*/,-]+$")
# Where the image (Dockerfile, scripts/build-image.sh) keeps scripts/.
IMAGE_SCRIPTS = "/opt/milvus-pipes/scripts/"
IMAGE = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*/milvus-pipes:(?P<tag>[\w.-]+)$")
RELEASE = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def fail(message):
    print(f"k8s_manifests: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def scripts_named(text):
    names = {a or b for a, b in SCRIPT.findall(text)}
    for name in names:
        if not (ROOT / "scripts" / name).is_file():
            fail(f"scripts/{name} is referenced but does not exist")
    return names


def check_schedule(where, schedule):
    fields = schedule.split()
    if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
        fail(f"{where}: schedule {schedule!r} is not five cron fields")


def check_container(where, container):
    image = container.get("image", "")
    match = IMAGE.match(image)
    if not match:
        fail(f"{where}: image {image!r} is not REGISTRY/milvus-pipes:TAG, the image this repository builds")
    if match["tag"] != RELEASE:
        fail(f"{where}: image tag {match['tag']!r} is not the release {RELEASE!r} (Cargo.toml), "
             "the tag scripts/build-image.sh gives")
    for word in container.get("command") or []:
        if "scripts/" in word and not (word.startswith(IMAGE_SCRIPTS) and word.endswith(".sh")):
            fail(f"{where}: command {word!r} is not under {IMAGE_SCRIPTS}, where the image holds scripts/")


def check_sharded_job(where, spec):
    """An Indexed Job of milvus-dump shards: one pod per shard, each told its
    index (JOB_COMPLETION_INDEX) and the shard count the Job runs."""
    if spec.get("completionMode") != "Indexed":
        fail(f"{where}: a sharded dump needs completionMode Indexed (JOB_COMPLETION_INDEX)")
    pod = spec["template"]["spec"]
    if pod.get("restartPolicy") not in ("Never", "OnFailure"):
        fail(f"{where}: a Job's pods need restartPolicy Never or OnFailure")
    for container in pod["containers"]:
        check_container(where, container)
        command = " ".join(container.get("command", []) + container.get("args", []))
        if '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' not in command or "--resume" not in command:
            fail(f"{where}: milvus-dump must run with --shard \"$JOB_COMPLETION_INDEX/$SHARDS\" --resume")
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        shards = int(env.get("SHARDS") or 0)
        if not shards or spec.get("completions") != shards or spec.get("parallelism") != shards:
            fail(f"{where}: SHARDS ({env.get('SHARDS')}) must equal completions and parallelism "
                 f"({spec.get('completions')}, {spec.get('parallelism')})")


def check_object(path, doc):
    where = f"{path.relative_to(ROOT)}"
    for key in ("apiVersion", "kind"):
        if not isinstance(doc.get(key), str):
            fail(f"{where}: a document without {key}")
    if not (doc.get("metadata") or {}).get("name"):
        fail(f"{where}: {doc['kind']} without metadata.name")
    where += f" ({doc['kind']} {doc['metadata']['name']})"
    if doc["kind"] == "CronJob":
        check_schedule(where, doc["spec"]["schedule"])
        pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            fail(f"{where}: a Job's pods need restartPolicy Never or OnFailure")
        if not scripts_named(yaml.safe_dump(pod["containers"])) and "backup-verify" not in str(pod):
            fail(f"{where}: its containers run none of scripts/*.sh")
        for container in pod["containers"]:
            check_container(where, container)
    if doc["kind"] == "Job":
        check_sharded_job(where, doc["spec"])
    if doc["kind"] in ("ConfigMap", "Secret"):
        for section in ("data", "stringData"):
            for key, value in (doc.get(section) or {}).items():
                if not isinstance(value, str):
                    fail(f"{where}: {section}.{key} must be a string, not {type(value).__name__}")
    return where


def main():
    checked = 0
    for path in sorted((ROOT / "k8s").rglob("*.yaml")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{path.relative_to(ROOT)}: not valid YAML: {e}")
        if not docs:
            fail(f"{path.relative_to(ROOT)}: empty")
        for doc in docs:
            if "groups" in doc:  # a Prometheus rules file
                for group in doc["groups"]:
                    for rule in group["rules"]:
                        if not rule.get("alert") or not rule.get("expr"):
                            fail(f"{path.relative_to(ROOT)}: a rule without alert or expr")
                print(f"k8s_manifests: ok: {path.relative_to(ROOT)} (alert rules)")
            else:
                print(f"k8s_manifests: ok: {check_object(path, doc)}")
            checked += 1
    crontab = ROOT / "k8s" / "crontab.example"
    for line in crontab.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Z_]+=", line):
            continue
        check_schedule("k8s/crontab.example", " ".join(line.split()[:5]))
        scripts_named(line)
        checked += 1
    print(f"k8s_manifests: ok: k8s/crontab.example; {checked} objects and lines checked")


if __name__ == "__main__":
    main()
