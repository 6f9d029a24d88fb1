// A real headless Chromium for the browser tests (the dashboard, the simulator's page), driven by
// playwright-core. The browser is Debian's `chromium` package (.ci/run installs it); set
// ORDO_CHROMIUM to use another binary. A missing browser fails the test with the command that
// installs it: browser tests never skip silently.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

/** The Chromium binary to drive: ORDO_CHROMIUM, else the first of Debian's usual paths. */
export function chromiumPath(): string {
  const fromEnv = process.env.ORDO_CHROMIUM;
  if (fromEnv !== undefined && fromEnv !== "") {
    if (!existsSync(fromEnv)) throw new Error(`ORDO_CHROMIUM=${fromEnv}: no such file`);
    return fromEnv;
  }
  const found = CANDIDATES.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(
      "no Chromium found for the browser tests: `apt-get install -y chromium` (Debian), or set ORDO_CHROMIUM",
    );
  }
  return found;
}

/** Launches headless Chromium; the caller closes it (t.after(() => browser.close())). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Root in CI containers: Chromium's sandbox needs user namespaces it may not have.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    timeout: 60_000,
  });
}

/** Where browser tests put their screenshots: test-output/browser/ (ORDO_TEST_OUTPUT overrides). */
export async function screenshotDir(): Promise<string> {
  const dir = process.env.ORDO_TEST_OUTPUT ?? join(process.cwd(), "test-output", "browser");
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Saves a full-page screenshot as NAME.png in screenshotDir() and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const path = join(await screenshotDir(), `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
