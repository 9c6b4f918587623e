"""Regenerates the README's pictures in real Chromium (Playwright driving the system's Chromium):
the survey page on a 390 px phone (English NPS, German CSAT) and on a desktop, and the scorecard
email of a demo run on a phone and on a desktop.

    .venv/bin/python docs/screenshots.py [demo-out]     # after `touchpoint demo` (docs/screenshot.sh runs both)
"""

from __future__ import annotations

import sys
from email import message_from_bytes, policy
from pathlib import Path

from touchpoint.catalog import load_catalog
from touchpoint.surveys import pages
from touchpoint_local.browser import chromium

DOCS = Path(__file__).resolve().parent
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 760}


def main(demo_out: Path) -> None:
    catalog = load_catalog("ecommerce")
    shots = {
        "survey-phone.png": (pages.render_survey("our shop", catalog.get("relationship"), "nps", "t", 9), PHONE, False),
        "survey-phone-de.png": (pages.render_survey("Müller Versand", catalog.get("shipping"), "csat", "t", None,
                                                    locale="de"), PHONE, False),
        "survey-desktop.png": (pages.render_survey("our shop", catalog.get("checkout"), "ces", "t", 6), DESKTOP, False),
    }
    eml = demo_out / "scorecard.eml"
    if eml.is_file():
        message = message_from_bytes(eml.read_bytes(), policy=policy.default)
        html = message.get_body(preferencelist=("html",)).get_content()
        shots["scorecard-email-phone.png"] = (html, PHONE, True)
        shots["scorecard-email.png"] = (html, {"width": 760, "height": 1000}, True)
    with chromium() as browser:
        for name, (html, viewport, full) in shots.items():
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.set_content(html)
            page.screenshot(path=str(DOCS / name), full_page=full)
            page.close()
            print(f"wrote docs/{name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("demo-out"))
