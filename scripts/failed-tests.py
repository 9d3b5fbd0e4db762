"""Prints each failed test in the given TRX files with the first lines of its message and stack trace."""
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
failed = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        print(f"  (cannot read {path}: {e})")
        continue
    for result in root.iterfind(".//t:UnitTestResult", NS):
        if result.get("outcome") not in ("Failed", "Error", "Aborted", "Timeout"):
            continue
        failed += 1
        print(f"  FAILED {result.get('testName')} ({result.get('duration')})")
        for tag in ("Message", "StackTrace"):
            node = result.find(f".//t:ErrorInfo/t:{tag}", NS)
            if node is not None and node.text:
                for line in node.text.strip().splitlines()[:12]:
                    print(f"      {line}")
print(f"  {failed} failed test(s) in {len(sys.argv) - 1} result file(s); a project without a line here failed to build or its test host crashed (see above).")
