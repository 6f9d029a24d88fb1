// The live dashboard in a real headless Chromium, against a real 3-member cluster of `ordo serve`
// processes: the page loads without console errors and shows three reachable members and one
// leader; a key written with etcdctl appears in the key browser (rendered as text, also a key
// that looks like markup); a live prefix watch shows a new put; with one follower killed the
// verdict turns "quorum, slow" (or the member shows unreachable); with both followers killed it
// turns "no quorum, stopped". Every wait is on the page's content (waitForFunction), bounded.
// Screenshots go to test-output/browser/; with ORDO_UPDATE_DOCS=1 the healthy one is copied to
// docs/dashboard.png (the README's picture), so an ordinary run leaves the tree as it was.
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ETCDCTL, etcdctlOk } from "../cluster/etcdctl.js";
import { startProcessCluster, waitForLeader } from "../cluster/processes.js";
import { launchChromium, screenshot } from "./chromium.js";

const WAIT_MS = 20_000;
const docsDir = fileURLToPath(new URL("../../../docs/", import.meta.url));

const etcdctl = (endpoint: string, args: readonly string[]): Promise<string> =>
  etcdctlOk(endpoint, args, {
    global: ["--dial-timeout=5s", "--command-timeout=10s"],
    killAfterMs: 20_000,
  });

test("the dashboard shows the cluster live, its keys, a watch, and the verdicts", async (t) => {
  assert.ok(existsSync(ETCDCTL), `${ETCDCTL} not found: apt-get install etcd-client`);
  const cluster = await startProcessCluster(3);
  t.after(() => cluster.stop());
  const leaderPort = await waitForLeader(cluster.clientPorts);
  const endpoint = `127.0.0.1:${leaderPort}`;
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`http://${endpoint}/dashboard`);
  // Waits are on the page's content through locators (the page's CSP forbids eval, which
  // waitForFunction needs): each selector matches once the condition holds.
  const until = (selector: string): Promise<void> =>
    page.locator(selector).first().waitFor({ state: "attached", timeout: WAIT_MS });
  const text = async (selector: string): Promise<string> =>
    (await page.textContent(selector)) ?? "";

  // Three reachable members, exactly one leader, a quorum: healthy (or slow only if the shared
  // machine's disk is: an fsync p99 above the bound is the one slow reason allowed here).
  const members3 = 'body[data-members="3"][data-leaders="1"][data-unreachable="0"]';
  await until(
    `${members3} #verdict[data-state="healthy"], ${members3} #verdict[data-state="slow"]`,
  );
  const words = await text("#verdict-words");
  if (words !== "healthy") {
    assert.equal(words, "quorum, slow");
    const why = await page.$$eval("#verdict-reasons li", (lis) => lis.map((l) => l.textContent));
    assert.ok(
      why.every((w) => / fsync p99 /.test(w ?? "")),
      why.join("; "),
    );
  }
  const roles = await page.$$eval("#members tr.member", (rows) =>
    rows.map((r) => r.getAttribute("data-role")),
  );
  assert.deepEqual(roles.sort(), ["Follower", "Follower", "Leader"]);

  // Keys written with etcdctl, one of them looking like markup, one with a control character.
  const markup = "dash/<img src=x onerror=window.__pwned=1>";
  await etcdctl(endpoint, ["put", "dash/hello", "world"]);
  await etcdctl(endpoint, ["put", markup, "<b>bold?</b>"]);
  await etcdctl(endpoint, ["put", "dash/tab\tkey", "x"]);
  // Some traffic for the charts: bounded, through the JSON gateway.
  for (let i = 0; i < 30; i++) {
    const res = await fetch(`http://${endpoint}/v3/kv/put`, {
      method: "POST",
      body: JSON.stringify({
        key: Buffer.from(`load/${i}`).toString("base64"),
        value: Buffer.from(String(i)).toString("base64"),
      }),
    });
    assert.equal(res.status, 200);
  }
  await page.fill("#key-prefix", "dash/");
  await page.click("#key-search button");
  await until("#keys tbody tr:nth-child(3)");
  assert.equal(await page.locator("#keys tbody tr").count(), 3);
  const keys = await page.$$eval("#keys tbody tr td:first-child", (tds) =>
    tds.map((td) => td.textContent ?? ""),
  );
  assert.deepEqual(keys.sort(), [markup, "dash/hello", "dash/tab\\x09key"].sort());
  assert.equal(await page.$("#keys img"), null, "a key is never rendered as markup");
  assert.equal(await page.evaluate("window.__pwned"), undefined);
  // A key's revisions and version.
  await page.click("#keys tbody tr:has-text('dash/hello')");
  await until('#detail-key:text-is("dash/hello")');
  assert.equal(await text("#detail-version"), "1");
  assert.equal(await text("#detail-value"), "world");
  assert.match(await text("#detail-create"), /^\d+$/);

  // A live watch of the prefix shows a new put, and only what is under the prefix.
  await page.fill("#watch-prefix", "dash/");
  await page.click("#watch-button");
  await until('#watch-state[data-state="watching"]');
  await etcdctl(endpoint, ["put", "other/ignored", "1"]);
  await etcdctl(endpoint, ["put", "dash/live", "42"]);
  await until('#watch-events tr.watch-event:has-text("dash/live")');
  const watched = await page.$$eval("#watch-events tr.watch-event", (rows) =>
    rows.map((r) => r.textContent ?? ""),
  );
  assert.equal(watched.length, 1, `only the put under the prefix: ${watched.join(" | ")}`);
  assert.match(watched[0] as string, /PUTdash\/live42/);

  // The charts are drawn (uPlot's canvases), then the healthy picture for the README.
  await until("#chart-lag canvas");
  assert.equal(await page.locator(".chart canvas").count(), 3);
  const healthy = await screenshot(page, "dashboard-healthy");
  if (process.env.ORDO_UPDATE_DOCS === "1") {
    mkdirSync(docsDir, { recursive: true });
    copyFileSync(healthy, `${docsDir}dashboard.png`);
  }

  // One follower killed (by PID): quorum, slow, naming it unreachable.
  const followers = cluster.members.filter((m) => m.clientPort !== leaderPort);
  const [first, second] = followers;
  assert.ok(first !== undefined && second !== undefined);
  process.kill(first.child.pid as number, "SIGKILL");
  await first.exited;
  await until(
    `body[data-unreachable="1"] #members tr.member[data-name="${first.name}"][data-reachable="false"]`,
  );
  await until('#verdict-words:text-is("quorum, slow")');
  assert.match(await text("#verdict-reasons"), new RegExp(`${first.name} unreachable`));
  await screenshot(page, "dashboard-one-down");

  // Both followers killed: no quorum, stopped, naming the unreachable members.
  process.kill(second.child.pid as number, "SIGKILL");
  await second.exited;
  await until('#verdict-words:text-is("no quorum, stopped")');
  const reasons = await text("#verdict-reasons");
  assert.match(reasons, /unreachable: /);
  assert.ok(reasons.includes(first.name) && reasons.includes(second.name), reasons);
  assert.equal(
    await page.getAttribute(`#members tr.member[data-name="${second.name}"]`, "data-reachable"),
    "false",
  );
  await screenshot(page, "dashboard-no-quorum");

  assert.deepEqual(problems, []);
});
