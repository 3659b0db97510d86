"""The pytest plugin as a merchant meets it: a project of its own, a virtualenv holding nothing but
wxpay-emulator, wechatpayv3 and pytest, and ``pytest`` run there in a subprocess.

Cost: a fresh ``pip install <repo> wechatpayv3`` measured 136 s here (two shared cores under load),
most of it installing the dependencies. So the dependencies are not installed again: each session makes
a fresh venv that sees, through a ``.pth`` line, a folder of links to exactly the distributions
pyproject.toml's dependency list, wechatpayv3 and pytest need (their transitive closure, read from the
metadata of this test's own environment, which has them all). Into the fresh venv goes a wheel built
from a copy of the source (no build files in the worktree) by the build backend of this test's
environment (the dev extra lists the build-system requirements; failing them, by a venv of them cached
in pytest's cache). The costs are printed (``-s``); see docs/testing.md.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[3]
SDK_REQUIREMENTS = ["wechatpayv3==2.0.4", "pytest"]

FIRST_MODULE = '''
"""Written by the e2e test: create, pay, receive and verify a notification, refund."""
import json
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

OUT_TRADE_NO = "SHARED_ORDER_0001"
OUT_REFUND_NO = "SHARED_REFUND_0001"


@pytest.fixture
def receiver():
    got = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.put((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notify", got
    server.shutdown()
    server.server_close()


def test_pay_receive_verify_refund(wxpay_emulator, receiver):
    notify_url, received = receiver
    merchant = wxpay_emulator.merchant()
    wxpay = wxpay_emulator.wechatpayv3_client(merchant, notify_url=notify_url)
    code, text = wxpay.pay(
        description="a cup of tea", out_trade_no=OUT_TRADE_NO, amount={"total": 100},
        payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    )
    assert code == 200, text
    assert json.loads(text)["prepay_id"].startswith("wx")

    wxpay_emulator.pay(merchant, OUT_TRADE_NO)
    headers, body = received.get(timeout=15)
    notice = wxpay.callback(headers, body)  # wechatpayv3 verifies the signature and decrypts
    assert notice is not None, "wechatpayv3 did not verify the notification"
    assert notice["event_type"] == "TRANSACTION.SUCCESS"
    assert notice["resource"]["out_trade_no"] == OUT_TRADE_NO
    assert notice["resource"]["trade_state"] == "SUCCESS"
    assert wxpay_emulator.wait_for_notification(out_trade_no=OUT_TRADE_NO).status == "DELIVERED"

    code, text = wxpay.refund(
        out_refund_no=OUT_REFUND_NO, out_trade_no=OUT_TRADE_NO,
        amount={"refund": 30, "total": 100, "currency": "CNY"},
    )
    assert code == 200, text
    assert json.loads(text)["status"] == "PROCESSING"
    wxpay_emulator.settle_refund(merchant, OUT_REFUND_NO)
    code, text = wxpay.query_refund(out_refund_no=OUT_REFUND_NO)
    assert json.loads(text)["status"] == "SUCCESS"
    headers, body = received.get(timeout=15)
    notice = wxpay.callback(headers, body)
    assert notice is not None and notice["event_type"] == "REFUND.SUCCESS"
    assert notice["resource"]["out_refund_no"] == OUT_REFUND_NO
    print("FIRST_MODULE_DONE", merchant.mchid)
'''

SECOND_MODULE = '''
"""Written by the e2e test: the same session's server, none of the first module's orders."""
import json

OUT_TRADE_NO = "SHARED_ORDER_0001"  # the first module's order number


def test_sees_none_of_the_first_modules_orders(wxpay_emulator):
    everyone = [o["transaction"]["out_trade_no"] for o in wxpay_emulator.orders()]
    assert OUT_TRADE_NO in everyone  # the same server: the first module's order is there ...
    merchant = wxpay_emulator.merchant()
    assert wxpay_emulator.orders(merchant) == []  # ... but not this test's merchant's
    assert wxpay_emulator.notifications(merchant) == []
    wxpay = wxpay_emulator.wechatpayv3_client(merchant)
    code, text = wxpay.query(out_trade_no=OUT_TRADE_NO)
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST", text
    code, text = wxpay.pay(
        description="tea", out_trade_no=OUT_TRADE_NO, amount={"total": 1},
        payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    )
    assert code == 200, text
    print("SECOND_MODULE_DONE", merchant.mchid)
'''


def _source_copy(target: Path) -> Path:
    """What ``pip install <repo>`` needs, copied: the package is built from it, not in the worktree."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, target / name)
    shutil.copytree(
        REPO / "src" / "wxpay_emulator",
        target / "src" / "wxpay_emulator",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return target


def _clean_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "PIP_CACHE_DIR", "PIP_FIND_LINKS", "PIP_CONFIG_FILE",
            "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CERT", "PIP_DEFAULT_TIMEOUT")  # fmt: skip
    return {k: v for k, v in os.environ.items() if k in keep}


def _pip(python: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), *args, "--quiet", "--no-input"],
        check=True, timeout=900, env=_clean_env(),
    )  # fmt: skip


def _cached_venv(request: pytest.FixtureRequest, name: str, requirements: list[str]) -> Path:
    """A venv holding exactly ``requirements``, kept in pytest's cache (``.pytest_cache``;
    ``--cache-clear`` drops it) under a key of those requirements and this Python; without the cache
    plugin (``-p no:cacheprovider``), made afresh in the session's temporary directory."""
    key = hashlib.sha256(json.dumps([sys.version, requirements]).encode()).hexdigest()[:16]
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        layer = cache.mkdir(f"{name}-{key}") / "venv"
    else:
        layer = request.getfixturevalue("tmp_path_factory").mktemp(f"{name}-{key}") / "venv"
    done = layer / "complete"
    if not done.exists():
        shutil.rmtree(layer, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(layer)], check=True, timeout=120)
        _pip(layer / "bin" / "python", "install", *requirements)
        done.write_text("\n".join(requirements) + "\n")
    return layer


def _satisfied(requirement: Requirement) -> bool:
    try:
        version = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return requirement.specifier.contains(version, prereleases=True)


def _builder(request: pytest.FixtureRequest, requires: list[str]) -> Path:
    """The Python that builds the wheel: this test's own when it has the build-system requirements
    (the dev extra lists them), else a cached venv of them."""
    if all(_satisfied(Requirement(text)) for text in requires):
        return Path(sys.executable)
    return _cached_venv(request, "wheel-builder", requires) / "bin" / "python"


def _build_wheel(python: Path, backend: str, source: Path, wheels: Path) -> Path:
    """PEP 517 ``build_wheel`` of ``source``, as a frontend without build isolation calls it."""
    hook = "import importlib, sys; print(importlib.import_module(sys.argv[1]).build_wheel(sys.argv[2]))"
    wheels.mkdir()
    done = subprocess.run(
        [str(python), "-c", hook, backend, str(wheels)],
        cwd=source, capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return wheels / done.stdout.strip().splitlines()[-1]


def _closure(requirements: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``requirements`` need, transitively (extras and markers applied),
    by canonical name; each must satisfy every requirement on it."""
    found: dict[str, importlib.metadata.Distribution] = {}
    expanded: set[tuple[str, str]] = set()
    todo = [Requirement(text) for text in requirements]
    for _ in range(100_000):
        if not todo:
            break
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        try:
            dist = found.get(name) or importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} is not installed here: pip install -e '.[dev]' again")
        assert requirement.specifier.contains(dist.version, prereleases=True), (requirement, dist.version)
        found[name] = dist
        for extra in ("", *sorted(requirement.extras)):
            if (name, extra) in expanded:
                continue
            expanded.add((name, extra))
            for text in dist.requires or []:
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    todo.append(needed)
    assert not todo, "dependency closure did not end"
    return found


def _linked_layer(folder: Path, requirements: list[str]) -> Path:
    """A folder of links to the top-level files and folders (packages, modules, ``*.dist-info``) of
    the distributions ``requirements`` need, as installed in this test's environment: on a venv's path
    (a ``.pth`` line), it is as if exactly those had been installed there."""
    folder.mkdir()
    for dist in _closure(requirements).values():
        for file in dist.files or []:
            top = file.parts[0]
            if top in ("..", "__pycache__") or (folder / top).exists():
                continue
            target = Path(str(dist.locate_file(top)))
            assert target.exists(), (dist.metadata["Name"], target)
            (folder / top).symlink_to(target, target_is_directory=target.is_dir())
    return folder


@pytest.fixture(scope="session")
def sdk_only_venv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only wxpay-emulator (and its own dependencies), wechatpayv3 and pytest.

    The dependency layer is linked (above) and joined to a fresh venv by a ``.pth`` line; into the
    fresh venv goes a wheel built from a copy of this worktree's source, so the code under test is
    current.
    """
    base = tmp_path_factory.mktemp("sdk-only")
    started = time.perf_counter()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    requirements = [*project["project"]["dependencies"], *SDK_REQUIREMENTS]
    layer_site = _linked_layer(base / "layer", requirements)
    builder = _builder(request, project["build-system"]["requires"])
    layered = time.perf_counter()
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                       capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    )  # fmt: skip
    (site / "sdk_only_layer.pth").write_text(f"{layer_site}\n")
    source = _source_copy(base / "source")
    wheel = _build_wheel(builder, project["build-system"]["build-backend"], source, base / "wheels")
    assert wheel.name.startswith("wxpay_emulator-") and wheel.suffix == ".whl", wheel
    _pip(python, "install", "--no-deps", "--no-index", str(wheel))
    print(
        f"\nsdk-only venv: dependency layer and builder {layered - started:.1f}s, "
        f"fresh venv + package {time.perf_counter() - layered:.1f}s"
    )
    return python


def test_a_merchants_project_uses_the_plugin(sdk_only_venv: Path, tmp_path: Path) -> None:
    python = sdk_only_venv
    names_of = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])"
    listed = subprocess.run(
        [str(python), "-c", names_of],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    names = {line.strip().lower().replace("_", "-") for line in listed.splitlines()}
    assert {"wxpay-emulator", "wechatpayv3", "pytest"} <= names
    assert not names & {
        "wechatpy",
        "hypothesis",
        "mypy",
        "ruff",
    }  # the package, its dependencies, SDK, pytest

    project = tmp_path / "merchant-project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_a_checkout.py").write_text(textwrap.dedent(FIRST_MODULE))
    (project / "tests" / "test_b_isolation.py").write_text(textwrap.dedent(SECOND_MODULE))
    started = time.perf_counter()
    run = subprocess.run(
        [str(python), "-m", "pytest", "-v", "-s", "-p", "no:cacheprovider", "tests"],
        cwd=project, capture_output=True, text=True, timeout=300, env=_clean_env(),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "2 passed" in output, output
    assert "FIRST_MODULE_DONE" in output and "SECOND_MODULE_DONE" in output, output
    first = output.split("FIRST_MODULE_DONE ", 1)[1].split()[0]
    second = output.split("SECOND_MODULE_DONE ", 1)[1].split()[0]
    assert first != second
    startup = [line for line in output.splitlines() if line.startswith("wxpay-emulator: ")]
    assert len(startup) == 1, output  # one server for the whole session
    print(f"\nmerchant project's pytest run: {elapsed:.1f}s; {startup[0]}")
