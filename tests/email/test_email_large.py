"""A 20 MB message is normalised in bounded memory (issue 16): under 100 MB
above the process's idle size, measured as the kernel sees it (peak RSS) in
a fresh process, the way an operator would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

LIMIT_MB = 100
_PROBE = r"""
import hashlib, json, resource, sys
from helpline.ingest.email.normalise import normalise_email

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1e6

idle = rss_mb()
with open(sys.argv[1], "rb") as f:
    raw = f.read()
env = normalise_email(raw, put_blob=lambda d: hashlib.sha256(d).hexdigest(), support_addresses=["s@x.example"])
with open("/proc/self/status") as f:  # VmHWM: this image's peak (ru_maxrss survives exec from a big parent)
    peak = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) * 1024 / 1e6
print(json.dumps({"idle_mb": idle, "peak_mb": peak, "size_mb": len(raw) / 1e6,
                  "attachments": [[a.filename, a.size] for a in env.attachments], "text": env.text}))
"""


def big_message(total: int = 20 * 1024 * 1024) -> bytes:
    msg = MIMEMultipart()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = "a@example.net", "s@x.example", "big", "<big@x>"
    msg.attach(MIMEText("Here are the logs.\n"))
    per = total * 3 // 4 // 3
    for i in range(3):
        msg.attach(MIMEApplication(os.urandom(per), Name=f"log{i}.bin"))
    return msg.as_bytes()


def measure(path: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, path], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout)


def test_twenty_megabyte_message_peaks_under_100_mb_above_idle(tmp_path):
    path = tmp_path / "big.eml"
    path.write_bytes(big_message())
    got = measure(str(path))
    above = got["peak_mb"] - got["idle_mb"]
    print(f"20 MB message: {got['size_mb']:.1f} MB raw, peak RSS {above:.1f} MB above idle")
    assert got["text"] == "Here are the logs."
    assert [name for name, _ in got["attachments"]] == ["log0.bin", "log1.bin", "log2.bin"]
    assert above < LIMIT_MB, f"peak {above:.1f} MB above idle for a {got['size_mb']:.1f} MB message"


if __name__ == "__main__":  # python -m tests.email.test_email_large FILE: the figure for any message
    import tempfile

    if len(sys.argv) > 1:
        print(json.dumps({k: v for k, v in measure(sys.argv[1]).items() if k != "text"}))
    else:
        with tempfile.NamedTemporaryFile(suffix=".eml") as f:
            f.write(big_message())
            f.flush()
            r = measure(f.name)
            print(f"peak {r['peak_mb'] - r['idle_mb']:.1f} MB above idle ({r['size_mb']:.1f} MB message)")
