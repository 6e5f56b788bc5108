"""Headless Chromium for the tests: the DOM after load, the console messages, and an HTML outline."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from livingreview.book.screenshots import HEADLESS_FLAGS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [*HEADLESS_FLAGS, "--enable-logging=stderr", "--v=0"]  # console messages on stderr
CONSOLE_RE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)\] (.*)")


@dataclass
class Loaded:
    """A page as Chromium left it: its DOM and what it wrote to the console."""

    dom: str
    console: list[str]


def load(page: Path, profile: Path, window: str = "1280,900") -> Loaded:
    done = subprocess.run(
        [
            CHROMIUM or "chromium",
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={window}",
            "--dump-dom",
        ]
        + [page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Loaded(done.stdout, CONSOLE_RE.findall(done.stderr))


@dataclass
class Outline(HTMLParser):
    """Ids, links, images, headings and anything executable in an HTML document."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    headings: list[tuple[str, str]] = field(default_factory=list)
    scripts: int = 0
    handlers: list[str] = field(default_factory=list)
    title: str = ""
    _in: str | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag in {"script", "iframe", "object", "embed", "form", "base"}:
            self.scripts += 1
        self.handlers += [k for k in a if k.startswith("on")]
        if tag in {"h1", "h2", "title"}:
            self._in = tag
            self.headings.append((tag, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, " ".join((text + " " + data).split()))
            if tag == "title":
                self.title = self.headings[-1][1]


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser
