"""The audit's report card: one row per check, and its JSON and JUnit XML forms.

Framework-free (no server imports): the CLI and the pytest plugin read the emulator's JSON back with
:meth:`Report.from_json` and write JUnit with :func:`write_junit`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    name: str  # e.g. forged_signature_refused
    passed: bool
    expected: str
    observed: str
    rule: str  # the WeChat rule the check stands for

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "expected": self.expected,
            "observed": self.observed,
            "rule": self.rule,
        }


@dataclass(frozen=True)
class Report:
    target: str  # the handler's URL
    family: str  # v3, v2 or cloud
    mchid: str
    out_trade_no: str
    synthetic: bool  # True: a synthetic paid order (stored nowhere); False: that order's real notification
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "target": self.target,
            "family": self.family,
            "mchid": self.mchid,
            "out_trade_no": self.out_trade_no,
            "synthetic": self.synthetic,
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        checks = tuple(
            Check(
                name=str(c["name"]),
                passed=bool(c["passed"]),
                expected=str(c["expected"]),
                observed=str(c["observed"]),
                rule=str(c["rule"]),
            )
            for c in data["checks"]
        )
        return cls(
            target=str(data.get("target", "")),
            family=str(data.get("family", "")),
            mchid=str(data.get("mchid", "")),
            out_trade_no=str(data.get("out_trade_no", "")),
            synthetic=bool(data.get("synthetic", True)),
            checks=checks,
        )


def junit_xml(report: Report) -> bytes:
    """A JUnit ``<testsuite>``: one ``<testcase>`` per check, a ``<failure>`` for each failed one."""
    failures = sum(1 for c in report.checks if not c.passed)
    suite = ET.Element(
        "testsuite",
        name=f"wxpay-emulator audit notify {report.family}",
        tests=str(len(report.checks)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    props = ET.SubElement(suite, "properties")
    for key in ("target", "family", "mchid", "out_trade_no"):
        ET.SubElement(props, "property", name=key, value=str(getattr(report, key)))
    for c in report.checks:
        case = ET.SubElement(suite, "testcase", classname=f"wxpay_audit.notify.{report.family}", name=c.name)
        if not c.passed:
            failure = ET.SubElement(case, "failure", message=f"expected {c.expected}; observed {c.observed}")
            failure.text = f"rule: {c.rule}\nexpected: {c.expected}\nobserved: {c.observed}\n"
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"rule: {c.rule}\nobserved: {c.observed}\n"
    text: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return text


def write_junit(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(report))
