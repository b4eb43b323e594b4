#!/usr/bin/env python3
"""The HTML report in a real browser (Debian's chromium, headless), and `qsm-harness serve`.

Usage: report-browser-test.py QSM_HARNESS

Runs a small suite in simulation (QSM and raw UDP, with a loss burst) with its figures, then
checks, from the pages as chromium renders them (its DOM after load, and a screenshot):
  - the folder page: the runs' table with a link per run, the engines side by side;
  - each run page: the summary table, the verdict, every figure loaded (the page's own script marks
    each <img> with data-loaded once the browser has decoded it), the fault windows, the scenario;
  - the screenshot is a real page: its size, and ink on it (not a blank or one-colour image).
Then serves the results with `qsm-harness serve --port 0` and checks the listing, a page and its
figure over HTTP in chromium, a summary.json, the refusals (a path out of the root, by "..", by
%2e%2e and by a symlink; a POST), and that Ctrl-C stops it. Exits 1 on the first failure, saying
what. Run it inside a network namespace with only `lo` (ctest does, as root): chromium then
cannot reach anything but 127.0.0.1.
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zlib

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-extensions", "--mute-audio", "--hide-scrollbars",
]


def fail(message):
    print(f"report-browser-test: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def chromium(profile, *args):
    binary = shutil.which("chromium")
    expect(binary is not None, "chromium is not installed (scripts/setup.sh installs it)")
    result = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                            capture_output=True, text=True, timeout=120)
    expect(result.returncode == 0, f"chromium {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result.stdout


def dump_dom(profile, url):
    # Time for the figures to load and the page's load handler to run before the DOM is dumped.
    dom = chromium(profile, "--virtual-time-budget=5000", "--dump-dom", url)
    expect('data-ready="yes"' in dom, f"{url}: the page's load handler did not run (no data-ready): {dom[:500]}")
    return dom


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit PNG, unfiltered."""
    data = open(path, "rb").read()
    expect(data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    expect(depth == 8 and colour in (2, 6) and interlace == 0, f"{path}: unexpected PNG layout {header}")
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + b) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def check_screenshot(path, width, height):
    w, h, channels, rows = png_pixels(path)
    expect((w, h) == (width, height), f"the screenshot is {w}x{h}, not {width}x{height}")
    colours, ink = set(), 0
    for row in rows[::4]:
        for x in range(0, w * channels, channels * 4):
            pixel = row[x:x + 3]
            colours.add(pixel)
            ink += pixel != b"\xff\xff\xff"
    sampled = (h // 4 + (h % 4 > 0)) * (w // 4 + (w % 4 > 0))
    expect(len(colours) > 20, f"the screenshot has only {len(colours)} colours: not a rendered report")
    expect(ink > sampled // 50, f"the screenshot is nearly blank ({ink} of {sampled} sampled pixels not white)")


def check_folder_page(profile, results):
    dom = dump_dom(profile, f"file://{results}/index.html")
    runs_table = re.search(r'<table id="runs">(.*?)</table>', dom, re.S)
    expect(runs_table, "the folder page has no runs table")
    links = re.findall(r'<a href="([^"]+/index\.html)">', runs_table.group(1))
    expect(len(links) == 2, f"the runs table links {len(links)} runs, not 2: {links}")
    expect('<pre id="engines">' in dom and "qsm" in dom and "udp" in dom,
           "the folder page does not show the engines side by side")
    return links


def check_run_page(profile, url):
    dom = dump_dom(profile, url)
    expect('<table id="summary">' in dom, f"{url}: no summary table")
    expect(re.search(r'<p id="verdict"><span class="ok">OK</span>', dom), f"{url}: the verdict is not OK")
    figures = re.findall(r'<img [^>]*data-figure="([^"]+)"[^>]*>', dom)
    expect({"timeseries", "latency"} <= set(figures), f"{url}: figures {figures}, expected timeseries and latency")
    for img in re.findall(r'<img [^>]*data-figure="[^"]+"[^>]*>', dom):
        expect('data-loaded="yes"' in img, f"{url}: a figure did not load in the browser: {img}")
    faults = re.search(r'<table id="faults">(.*?)</table>', dom, re.S)
    expect(faults and "loss-burst" in faults.group(1), f"{url}: the fault windows are not shown")
    expect(re.search(r'<pre id="scenario">[^<]*name: ', dom), f"{url}: the scenario is not shown")
    expect('href="summary.json"' in dom and 'href="timeseries.csv"' in dom, f"{url}: no links to the raw files")


def raw_request(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply.decode(errors="replace")


def check_serve(harness, profile, root, run_folder):
    server = subprocess.Popen([harness, "serve", root, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        expect(match, f"serve did not say where it listens: {line!r}")
        port = int(match.group(1))
        base = f"http://127.0.0.1:{port}"
        listing = urllib.request.urlopen(base + "/", timeout=10).read().decode()
        expect('href="demo/index.html"' in listing, f"the root listing does not link the results folder: {listing[:800]}")
        summary = urllib.request.urlopen(f"{base}/demo/{run_folder}/summary.json", timeout=10)
        expect(summary.headers["Content-Type"] == "application/json", "summary.json is not served as JSON")
        expect(json.loads(summary.read())["format"] == "qsm-run-summary/1", "summary.json over HTTP is not the file")
        check_run_page(profile, f"{base}/demo/{run_folder}/index.html")
        os.symlink("/etc", os.path.join(root, "demo", "outside"))
        for path in ["/../etc/passwd", "/demo/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/demo/outside/passwd",
                     "/no-such-folder/"]:
            reply = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
            expect(reply.startswith("HTTP/1.1 404"), f"GET {path}: {reply.splitlines()[0] if reply else 'no reply'}")
        reply = raw_request(port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        expect(reply.startswith("HTTP/1.1 405"), f"POST /: {reply.splitlines()[0]}")
        server.send_signal(signal.SIGINT)
        expect(server.wait(timeout=5) == 0, "serve did not exit 0 on Ctrl-C")
    finally:
        if server.poll() is None:
            server.kill()


def main():
    if len(sys.argv) != 2:
        fail("usage: report-browser-test.py QSM_HARNESS")
    harness = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="qsm-report-test-")
    try:
        profile = os.path.join(work, "chromium-profile")
        suite = os.path.join(work, "suite.yaml")
        scenario = os.path.join(work, "s.yaml")
        with open(scenario, "w") as f:
            f.write("name: s\nlauncher: sim\nnodes: 4\nsenders: 1\nrate: 2000\nduration: 3s\nwarmup: 1s\nseed: 7\n"
                    "faults: [{type: loss-burst, nodes: [4], every: 1s, for: 20ms}]\n")
        with open(suite, "w") as f:
            f.write("suite: browser\nruns:\n  - {scenario: s.yaml, set: {name: s-qsm}}\n"
                    "  - {scenario: s.yaml, set: {name: s-udp, engine.kind: udp}}\n")
        results = os.path.join(work, "results", "demo")
        run = subprocess.run([harness, "suite", suite, "--out", results, "--quiet"], capture_output=True, text=True,
                             timeout=600)
        expect(run.returncode == 0, f"the suite failed ({run.returncode}): {run.stdout[-2000:]}{run.stderr[-2000:]}")
        expect(f"report: {results}/index.html" in run.stdout, f"the suite did not announce its report: {run.stdout[-800:]}")
        links = check_folder_page(profile, results)
        for link in links:
            check_run_page(profile, f"file://{results}/{link}")
        shot = os.path.join(work, "shot.png")
        chromium(profile, "--virtual-time-budget=5000", f"--screenshot={shot}", "--window-size=1280,2000",
                 f"file://{results}/{links[0]}")
        check_screenshot(shot, 1280, 2000)
        check_serve(harness, profile, os.path.join(work, "results"), links[0].split("/")[0])
        print(f"report-browser-test: OK ({len(links)} run pages and the folder page rendered, figures loaded, "
              "screenshot has ink, serve answered and refused as it should)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
