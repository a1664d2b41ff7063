"""``<mount>/docs``: Swagger UI served by this server, on this server's document, with no CDN.

The fast tests use the in-process client. The browser test starts the real server (``tmf680 serve``
on the embedded mongod) and drives Debian's headless Chromium with Selenium through "Try it out".
It needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``scripts/install-browser.sh``): without
them it fails when ``CI`` is set and is skipped otherwise. Its screenshot lands in pytest's tmp dir
and, when ``TMF680_SCREENSHOT_DIR`` is set, there too.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from servers import terminate, tmf680, wait_for_port

from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"
MOUNTS = (BASE, "/customer/v4")
OPERATIONS = {  # operationId → (method, path)
    "listQueryProductRecommendation": ("GET", "/queryProductRecommendation"),
    "createQueryProductRecommendation": ("POST", "/queryProductRecommendation"),
    "retrieveQueryProductRecommendation": ("GET", "/queryProductRecommendation/{id}"),
    "registerListener": ("POST", "/hub"),
    "unregisterListener": ("DELETE", "/hub/{id}"),
    "listenToQueryProductRecommendationCreateEvent": ("POST", "/listener/queryProductRecommendationCreateEvent"),
    "listenToQueryProductRecommendationStateChangeEvent": (
        "POST", "/listener/queryProductRecommendationStateChangeEvent"),
}
CONTENT_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
REFERENCE = re.compile(r"""(?:src|href|data-openapi-url)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 30  # seconds for any one thing to appear in the browser
NOT_WIRED = "is edge.docs_page.install_docs(app, settings.mount_paths) called in app.factory.create_app?"


# --- in-process: the page and its assets -----------------------------------------------------------

@pytest.mark.parametrize("mount", MOUNTS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_docs_page_references_only_local_assets(client: Any, mount: str, slash: str) -> None:
    page_path = f"{mount}/docs{slash}"
    page = client.get(page_path)
    assert page.status_code == 200, f"{page_path}: {page.status_code} — {NOT_WIRED}"
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<title>" in html and "TMF680" in html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "http://" not in html and "https://" not in html, "the docs page must not reference remote URLs"
    references = REFERENCE.findall(html)
    assert references, html
    page_url = f"http://testserver{page_path}"
    static, openapi = f"{mount}/docs/static/", f"{mount}/openapi.json"
    for reference in references:
        assert not reference.startswith("//") and "://" not in reference, reference
        path = urlsplit(urljoin(page_url, reference)).path
        assert path.startswith(static) or path == openapi, f"{reference} resolves to {path}"
        asset = client.get(urljoin(page_url, reference))
        assert asset.status_code == 200, f"{reference} → {path}: {asset.status_code}"
        if path == openapi:
            document = asset.json()
            assert document["swagger"] == "2.0" and document["basePath"] == mount
            assert "host" not in document and "schemes" not in document  # "Try it out" → this server
            continue
        expected = CONTENT_TYPES[Path(path).suffix]
        assert asset.headers["content-type"].split(";")[0].strip() == expected, (path, asset.headers)
        assert asset.headers.get("x-content-type-options") == "nosniff"
        assert asset.content


def test_docs_assets(client: Any) -> None:
    static = f"{BASE}/docs/static"
    page = client.get(f"{BASE}/docs")
    assert page.status_code == 200, f"{BASE}/docs: {page.status_code} — {NOT_WIRED}"
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert any("swagger-ui-bundle.js" in src for src in scripts), scripts
    bundle = client.get(f"{static}/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    css = client.get(f"{static}/swagger-ui.css")
    assert css.status_code == 200 and ".swagger-ui" in css.text
    assert "@import" not in css.text and not re.search(r"url\(\s*['\"]?(https?:)?//", css.text)
    init = client.get(f"{static}/tmf680-docs.js")
    assert init.status_code == 200 and init.headers["content-type"].startswith("text/javascript")
    assert "validatorUrl: null" in init.text  # no badge from validator.swagger.io
    assert "http://" not in init.text and "https://" not in init.text
    # The wheel's other files (its petstore index and initializer) are not served.
    for name in ("index.html", "swagger-initializer.js", "nonexistent.js", "..%2Fopenapi.json"):
        assert client.get(f"{static}/{name}").status_code == 404, name
    assert client.post(f"{BASE}/docs", json={}).status_code == 405
    # The page forbids loading anything from elsewhere.
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp


# --- a real browser against the real server ----------------------------------------------------------

@pytest.fixture
def browser_paths() -> tuple[Path, Path]:
    """Debian's Chromium and chromedriver: a failure under CI when missing, a skip elsewhere."""
    problems = [f"{path} is missing" for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        problems.append("the selenium package is not installed (pip install -e '.[test]')")
    if problems:
        message = f"docs page browser test: {'; '.join(problems)} — run scripts/install-browser.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """``tmf680 serve`` in a fresh directory (embedded mongod, empty database); yields its base URL.

    Its output goes to ``server.log`` in the test's tmp dir (a file: a pipe nobody reads could fill up).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env["PYTHONUNBUFFERED"] = "1"
    workdir = tmp_path / "server"
    workdir.mkdir()
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen([*tmf680(), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=workdir,
                                   env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, timeout=60, log=log)
            yield f"http://127.0.0.1:{port}"
        finally:
            terminate(process)


def _chrome(chromium: Path, chromedriver: Path, profile: Path, log: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-quic", "--disable-extensions", "--window-size=1280,2000",
                     f"--user-data-dir={profile}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=str(chromedriver), log_output=str(log)), options=options)


def _save_screenshot(driver: Any, target: Path) -> list[Path]:
    """The whole page (not only the window) as a PNG, in pytest's tmp dir and ``TMF680_SCREENSHOT_DIR``."""
    from selenium.common.exceptions import WebDriverException

    try:
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        target.write_bytes(base64.b64decode(shot["data"]))
    except (WebDriverException, KeyError):  # a window-sized screenshot is still worth keeping
        driver.save_screenshot(str(target))
    saved = [target]
    extra_dir = os.environ.get("TMF680_SCREENSHOT_DIR")
    if extra_dir:
        Path(extra_dir).mkdir(parents=True, exist_ok=True)
        saved.append(Path(shutil.copy2(target, Path(extra_dir) / target.name)))
    for path in saved:
        print(f"docs page screenshot: {path}")
    return saved


def test_try_it_out_in_a_real_browser(browser_paths: tuple[Path, Path], live_server: str, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    # Selenium Manager must not look for (or download) a driver: the paths are explicit.
    monkeypatch.setenv("SE_OFFLINE", "true")
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    chromium, chromedriver = browser_paths
    served = httpx.get(f"{live_server}{BASE}/docs", timeout=10)
    assert served.status_code == 200, f"{BASE}/docs: {served.status_code} — {NOT_WIRED}"
    name = f"from the docs page {uuid.uuid4().hex[:8]}"
    driver = _chrome(chromium, chromedriver, tmp_path / "chrome-profile", tmp_path / "chromedriver.log")
    failed = True
    try:
        wait = WebDriverWait(driver, WAIT)
        driver.get(f"{live_server}{BASE}/docs")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(OPERATIONS))
        assert "TMF680" in driver.title
        listed = driver.find_element(By.ID, "swagger-ui").text
        for operation_id, (method, path) in OPERATIONS.items():
            assert operation_id in listed, f"{operation_id} is not listed"
            assert path in listed, f"{method} {path} is not listed"

        operation = driver.find_element(By.ID, "operations-queryProductRecommendation-createQueryProductRecommendation")
        summary = operation.find_element(By.CSS_SELECTOR, ".opblock-summary")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", summary)
        summary.click()
        wait.until(lambda d: operation.find_elements(By.CSS_SELECTOR, "button.try-out__btn"))
        operation.find_element(By.CSS_SELECTOR, "button.try-out__btn").click()
        body = wait.until(lambda d: operation.find_element(By.CSS_SELECTOR, "textarea.body-param__text"))
        # Swagger UI fills in the example body just after the textarea appears, and again whenever
        # it becomes empty: wait for it, select it and type over it (never leaving it empty), and
        # check (retrying) that the textarea holds exactly the new body.
        wait.until(lambda d: body.get_attribute("value"))
        wanted = json.dumps({"name": name})

        def replace_body(_driver: Any) -> bool:
            body.send_keys(Keys.CONTROL, "a")
            body.send_keys(wanted)
            return bool(body.get_attribute("value") == wanted)

        wait.until(replace_body)
        operation.find_element(By.CSS_SELECTOR, "button.execute").click()

        status = wait.until(lambda d: operation.find_element(
            By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
        wait.until(lambda d: status.text.strip())
        response_body = operation.find_element(By.CSS_SELECTOR, ".live-responses-table .response .highlight-code")
        assert status.text.strip().startswith("201"), f"{status.text}: {response_body.text}"
        assert name in response_body.text
        request_url = operation.find_element(By.CSS_SELECTOR, ".request-url pre").text.strip()
        assert request_url == f"{live_server}{BASE}/queryProductRecommendation", request_url

        # Every resource the page loaded came from this server.
        loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(f"{live_server}/") for url in loaded), loaded
        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        assert not errors, errors
        failed = False
    finally:
        try:
            _save_screenshot(driver, tmp_path / ("docs-page-failed.png" if failed else "docs-page.png"))
        except WebDriverException as exc:  # keep the test's own failure, not this one
            print(f"docs page screenshot failed: {exc.msg}")
        finally:
            driver.quit()

    listed_queries = httpx.get(f"{live_server}{BASE}/queryProductRecommendation", params={"limit": 100}, timeout=10)
    assert listed_queries.status_code == 200, listed_queries.text
    assert [item["name"] for item in listed_queries.json() if item.get("name") == name] == [name]
