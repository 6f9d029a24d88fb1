// `ordo sim --seed N --html FILE` in a real headless Chromium (issue 13): the page written by the
// command loads from the file (no network) without console errors, shows one lane per member
// with role/term segments, crash bands for a seed with crashes, and operation bars; a failing
// seed (--bug skip-vote-check) shows the violation panel with its operations, highlighted in
// the timeline. Screenshots: sim-page.png and sim-violation.png (test-output/browser/).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { launchChromium, screenshot } from "./chromium.js";

const ordo = fileURLToPath(new URL("../../../bin/ordo.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ordo-sim-html-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function sim(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ordo, "sim", ...args], { timeout: 60_000 }, (e, out, err) =>
      resolve({ code: e === null ? 0 : typeof e.code === "number" ? e.code : -1, out, err }),
    );
  });
}

/** Opens the page; collects console errors, page errors and any request that is not file://. */
async function open(page: Page, file: string): Promise<string[]> {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:")) problems.push(`network request: ${r.url()}`);
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  return problems;
}

test("ordo sim --html: a passing seed's page and a failing seed's violation panel", {
  timeout: 120_000,
}, async (t) => {
  const okFile = join(dir, "seed-3.html");
  const ok = await sim([
    "--seed",
    "3",
    "--stack",
    "core",
    "--nodes",
    "5",
    "--html",
    okFile,
    "--json",
  ]);
  assert.equal(ok.code, 0, ok.err);
  const summary = JSON.parse(ok.out.trim()) as { nodes: number; ops: number };
  const html = readFileSync(okFile, "utf8");
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);

  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1560, height: 900 } });
  const problems = await open(page, okFile);
  assert.equal(await page.locator("#run g.lane").count(), summary.nodes, "one lane per member");
  const leaders = await page.locator("#run rect.seg.role-Leader").count();
  const followers = await page.locator("#run rect.seg.role-Follower").count();
  assert.ok(leaders > 0 && followers > 0, `leaders ${leaders}, followers ${followers}`);
  const terms = await page
    .locator("#run rect.seg")
    .evaluateAll((rs) => new Set(rs.map((r) => r.getAttribute("data-term"))).size);
  assert.ok(terms > 1, `segments of ${terms} terms`);
  assert.ok((await page.locator("#run rect.band.crashed").count()) > 0, "a crash band");
  const bars = await page.locator("#run rect.op").count();
  assert.ok(bars > 10 && bars <= summary.ops, `${bars} operation bars`);
  assert.ok((await page.locator("#run rect.op.op-ok").count()) > 0);
  assert.ok((await page.locator("#run line.msg").count()) > 0, "messages drawn");
  assert.equal(await page.locator("#violation").count(), 0, "no violation panel when ok");
  // A rendered size, not only elements: the timeline is laid out and visible.
  const box = await page.locator("#run").boundingBox();
  assert.ok(box !== null && box.width > 1000 && box.height > 150, JSON.stringify(box));
  await page.click("#zoom-in");
  assert.equal(await page.textContent("#zoom-level"), "2x");
  await page.click("#zoom-out");
  await screenshot(page, "sim-page");
  assert.deepEqual(problems, []);

  const badFile = join(dir, "seed-7-bug.html");
  const bad = await sim([
    "--seed",
    "7",
    "--stack",
    "core",
    "--bug",
    "skip-vote-check",
    "--html",
    badFile,
  ]);
  assert.equal(bad.code, 1, "the failing seed still fails");
  const page2 = await browser.newPage({ viewport: { width: 1560, height: 900 } });
  const problems2 = await open(page2, badFile);
  const panel = page2.locator("#violation");
  assert.equal(await panel.count(), 1);
  assert.match((await panel.textContent()) ?? "", /LeaderCompleteness on n\d/);
  const rows = await panel.locator("tr.proof-op").count();
  assert.ok(rows > 0, "the operations are listed");
  const proofBars = await page2.locator("#run rect.op.proof").count();
  assert.ok(proofBars >= rows, `${proofBars} highlighted bars for ${rows} listed operations`);
  assert.equal(await page2.locator("#run line.violation-line").count(), 1);
  assert.ok((await page2.locator("#closeup line.msg").count()) > 0, "the close-up's messages");
  assert.ok((await page2.locator("#run g.lane.involved").count()) > 0, "the member named");
  await panel.locator("tr.proof-op").first().click();
  assert.equal((await page2.locator("rect.op.lit").count()) > 0, true, "a click lights its bar");
  await screenshot(page2, "sim-violation");
  assert.deepEqual(problems2, []);
});
