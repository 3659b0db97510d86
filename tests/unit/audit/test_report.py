"""The audit's report card: JSON round trip and the JUnit XML a CI reads."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from wxpay_emulator.audit.report import Check, Report, junit_xml, write_junit


def report(*passed: bool) -> Report:
    checks = tuple(
        Check(
            f"check_{i}",
            ok,
            "refused (not HTTP 200/204)",
            f"HTTP {200 if not ok else 401}",
            "a rule & <its> text",
        )
        for i, ok in enumerate(passed)
    )
    return Report("http://127.0.0.1:1/notify", "v3", "1900000001", "AUDIT_x", True, checks)


def test_json_round_trip_and_verdict() -> None:
    r = report(True, False, True)
    data = r.to_json()
    assert data["passed"] is False
    assert set(data["checks"][0]) == {"name", "passed", "expected", "observed", "rule"}
    assert Report.from_json(data) == r
    assert r.failed() == ["check_1"] and r.check("check_2").passed
    assert report(True, True).passed and not report().passed  # no checks is no pass


def test_junit(tmp_path: Path) -> None:
    path = tmp_path / "out" / "audit.xml"
    write_junit(report(True, False, False), path)
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    cases = list(suite.iter("testcase"))
    assert [c.get("name") for c in cases] == ["check_0", "check_1", "check_2"]
    failure = cases[1].find("failure")
    assert failure is not None and "a rule & <its> text" in (failure.text or "")
    assert cases[0].find("failure") is None
    assert junit_xml(report(True)).startswith(b"<?xml")
