"""JUnit XML: one testsuite per suite, one testcase per case; failure text = scorer reasons."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from promptctl.escaping import xml_text
from promptctl.evals.runner import EvalResult
from promptctl.redaction import printable


def render_junit(result: EvalResult) -> str:
    root = ET.Element("testsuites", name="promptctl eval")
    total = failures = 0
    for s in result.suites:
        cases = {o.case_id for o in s.outcomes}
        node = ET.SubElement(
            root,
            "testsuite",
            name=s.suite.name,
            tests=str(len(cases)),
            failures=str(len(s.failing)),
            errors="0",
        )
        props = ET.SubElement(node, "properties")
        for key, value in (
            ("run_id", s.run_id),
            ("prompt", s.prompt),
            ("prompt_version", s.prompt_version),
            ("model", s.model),
            ("status", s.status),
        ):
            ET.SubElement(props, "property", name=key, value=str(value))
        for case_id in sorted(cases):
            tc = ET.SubElement(node, "testcase", classname=s.suite.name, name=xml_text(case_id))
            reasons = s.failing.get(case_id)
            if reasons:
                # xml_text: a form feed or lone surrogate in an output makes the file unparseable
                text = "\n".join(xml_text(printable(r)) for r in reasons)
                failure = ET.SubElement(
                    tc, "failure", message=xml_text(printable(reasons[0]))[:200]
                )
                failure.text = text
        for f in s.floor_failures:
            if f.kind == "min_pass_rate":
                tc = ET.SubElement(
                    node,
                    "testcase",
                    classname=f"{s.suite.name}.floors",
                    name=f"min_pass_rate[{f.scorer_id}]",
                )
                ET.SubElement(tc, "failure", message=f.message).text = f.message
                failures += 1
        if s.gate is not None:
            from promptctl.reporters import gate_report

            failures += gate_report.junit(s.gate, node, s.suite.name)
            total += len(s.gate.scorers)
        total += len(cases)
        failures += len(s.failing)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
