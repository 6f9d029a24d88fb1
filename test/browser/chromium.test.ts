// The browser harness itself: Chromium starts headless, runs a page's script and reports what
// the page computed, so a broken browser install fails here first and plainly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { launchChromium } from "./chromium.js";

test("headless Chromium runs a page's script", async (t) => {
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.setContent(
    "<p id=out></p><script>document.getElementById('out').textContent = String(6 * 7)</script>",
  );
  assert.equal(await page.textContent("#out"), "42");
});
