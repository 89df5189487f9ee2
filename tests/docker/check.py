"""Checks docker/Dockerfile and docker/compose.yaml against the repository:
they parse, every path they copy exists, every jsrt setting they pass is one
the extension defines, the published ports are the ones it listens on, and
both health checks ask the front door's /healthz. No container engine here,
so this is all that can be checked on this machine (README "Docker")."""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from checks import check, finish  # noqa: E402  (the integration tests' counting checks)


def instructions(text):
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        cur += line.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


check("hadolint finds nothing in docker/Dockerfile", sys.argv[1:] == ["0"])

dockerfile = (ROOT / "docker/Dockerfile").read_text()
ins = instructions(dockerfile)
words = {w for w, _ in ins}
check("the Dockerfile parses into known instructions",
      words <= {"FROM", "RUN", "COPY", "WORKDIR", "ENV", "EXPOSE", "CMD", "HEALTHCHECK", "ARG", "LABEL"})
stages = [r for w, r in ins if w == "FROM"]
check("a multi-stage build ending on postgres:15",
      len(stages) >= 2 and stages[-1].split()[0].startswith("postgres:15"))
cargo = (ROOT / "Cargo.toml").read_text()
pgrx = re.search(r'^pgrx = "=([0-9.]+)"', cargo, re.M).group(1)
check(f"it installs cargo-pgrx {pgrx}, the version Cargo.toml pins",
      f"cargo-pgrx --version {pgrx} --locked" in dockerfile)
check("it builds with PostgreSQL 15's server headers", "postgresql-server-dev-15" in dockerfile)

# COPY sources (not --from another stage) are in the build context: the repository's root.
sources = []
for w, r in ins:
    if w == "COPY" and "--from=" not in r:
        parts = [p for p in r.split() if not p.startswith("--")]
        sources += parts[:-1]
missing = [s for s in sources if not (ROOT / s).exists()]
check(f"every path the Dockerfile copies exists ({', '.join(sources)})", sources and not missing)
# ... and what it copies from the stages is what `cargo pgrx package` and the console build make.
check("the runtime stage takes the library, the SQL files and the console",
      all(p in dockerfile for p in ("/lib/jsruntime.so", "/extension/", "console/dist/")))
check("the console is built as `make console` builds it (npm ci, node build.mjs)",
      "npm ci" in dockerfile and "node build.mjs" in dockerfile
      and "node build.mjs" in (ROOT / "Makefile").read_text())

# The settings: preload, and every jsrt.* one is defined by the extension.
cmd = next(r for w, r in ins if w == "CMD")
settings = dict(re.findall(r'"([a-z_.]+)=([^"]*)"', cmd))
gucs = set(re.findall(r'c"(jsrt\.[a-z_]+)"', (ROOT / "src/gucs.rs").read_text()))
check("shared_preload_libraries preloads jsruntime", settings.get("shared_preload_libraries") == "jsruntime")
unknown = [k for k in settings if k.startswith("jsrt.") and k not in gucs]
check(f"every jsrt setting passed is defined in src/gucs.rs ({len(settings)} settings)", not unknown)
env = dict(re.findall(r"(\w+)=(\S+)", " ".join(r for w, r in ins if w == "ENV")))
check("jsrt.database names the database the image creates (POSTGRES_DB)",
      settings.get("jsrt.database") == env.get("POSTGRES_DB"))
http_port = settings.get("jsrt.http_listen", "").rpartition(":")[2]
exposed = " ".join(r for w, r in ins if w == "EXPOSE").split()
check(f"EXPOSE has SQL (5432) and the HTTP front door ({http_port})", {"5432", http_port} <= set(exposed))
health = next((r for w, r in ins if w == "HEALTHCHECK"), "")
check("the image's HEALTHCHECK asks /healthz on the front door's port",
      f"127.0.0.1:{http_port}/healthz" in health and "curl" in dockerfile)
init = [r.split()[-1] for w, r in ins if w == "COPY" and "docker-entrypoint-initdb.d" in r]
check("an init script creates the extension",
      init and "CREATE EXTENSION" in (ROOT / "docker/initdb.sql").read_text())

compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
check("compose.yaml parses into one or more services", isinstance(compose.get("services"), dict) and compose["services"])
svc = next(iter(compose["services"].values()))
build = svc.get("build", {})
context = (ROOT / "docker" / build.get("context", ".")).resolve()
check("its build context is the repository and its Dockerfile exists",
      context == ROOT and (context / build.get("dockerfile", "Dockerfile")).is_file())
ports = [str(p) for p in svc.get("ports", [])]
check(f"it publishes SQL and HTTP ({', '.join(ports)})",
      any(p.endswith(":5432") for p in ports) and any(p.endswith(f":{http_port}") for p in ports))
vols = [v.split(":")[0] for v in svc.get("volumes", [])]
check("the data directory is a named volume declared at the top",
      any(v.split(":")[1] == "/var/lib/postgresql/data" for v in svc.get("volumes", []))
      and all(v in (compose.get("volumes") or {}) for v in vols))
test = svc.get("healthcheck", {}).get("test", [])
check("its healthcheck asks /healthz", any(f":{http_port}/healthz" in str(t) for t in test))
check("its POSTGRES_DB is the image's", svc.get("environment", {}).get("POSTGRES_DB") == env.get("POSTGRES_DB"))

finish("integration")
