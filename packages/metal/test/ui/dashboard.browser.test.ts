/**
 * The dashboard in a real browser (Debian's chromium, headless, through playwright-core), fed by
 * a recorded install of the lab's three hosts. Set UPDATE_SCREENSHOTS=1 to refresh
 * docs/images/dashboard.png from the finished install.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetbootEvents } from "netboot";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, type Fixture } from "../helpers.js";
import { startDashboard, type RunningDashboard } from "../../src/ui/dashboard.js";
import type { InstallEvents } from "../../src/ui/install-events.js";
import { installEventsOver, loadRecording, replay, type Recording } from "./support/replay.js";
import { UnknownMachines } from "../../src/boot/unknown-machines.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT = new URL("../../../../docs/images/dashboard.png", import.meta.url).pathname;
const BROWSER_TIMEOUT_MS = 60_000;
const MAX_TABS = 40;
const RECONNECT_WAIT_MS = 15_000;

const phaseOf = (page: Page, host: string) =>
  page.locator(`article[data-host="${host}"] .phase`).textContent();

describe.skipIf(!existsSync(CHROMIUM))("the dashboard in a browser", () => {
  let env: Fixture;
  let recording: Recording;
  let dashboard: RunningDashboard;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const netbootEvents = new NetbootEvents();
  const unknownMachines = new UnknownMachines();
  let events: InstallEvents;
  const targets = () => ({ store: env.store, netbootEvents, events, unknownMachines });

  beforeAll(async () => {
    env = await fixture();
    // The recording is replayed now: the store stamps its events with the real time.
    Object.defineProperty(env, "now", { get: () => Date.now() });
    recording = await loadRecording();
    events = installEventsOver(env.inventory, { store: env.store, netbootEvents, unknownMachines });
    dashboard = await startDashboard({
      port: 0,
      inventory: env.inventory,
      store: env.store,
      events,
      unknownMachines,
    });
    profile = await mkdtemp(join(tmpdir(), "metal-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1400, height: 1000 },
    });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], {
      origin: new URL(dashboard.url).origin,
    });
    page = context.pages()[0] ?? (await context.newPage());
  }, BROWSER_TIMEOUT_MS);

  afterAll(async () => {
    await context?.close();
    await dashboard?.close();
    await env?.cleanup();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it(
    "shows every host of the inventory, pending before anything happened",
    async () => {
      await page.goto(dashboard.url);
      await expect.poll(() => page.locator("article.host").count()).toBe(3);
      expect(await phaseOf(page, "node1")).toBe("○ pending");
      await expect.poll(() => page.locator("#connection").textContent()).toBe("● live");
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    "updates the cards live as the install goes on, without reloading",
    async () => {
      // Evaluated as strings: the test compiles without the DOM library.
      await page.evaluate("window.notReloaded = true");
      await replay(recording.phases.start, targets());
      await expect.poll(() => phaseOf(page, "node1")).toBe("◑ pxe");
      await expect
        .poll(() => page.locator('article[data-host="node1"] .downloads').textContent())
        .toContain("bzImage");
      await replay(recording.phases.finish, targets());
      await expect.poll(() => phaseOf(page, "node1")).toBe("✓ ready");
      expect(await phaseOf(page, "node3")).toBe("✗ failed");
      expect(await page.evaluate("window.notReloaded")).toBe(true);
      await expect.poll(() => page.locator("#announcer").textContent()).toContain("node1: ✓ ready");
      const node3 = page.locator('article[data-host="node3"]');
      expect(await node3.locator(".failure").textContent()).toContain("/dev/vda");
      expect(await node3.locator('[data-hint="disk-mismatch"]').textContent()).toContain(
        "Likely fix:",
      );
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    "reaches the controls with the keyboard and copies an unknown machine's [[hosts]] block",
    async () => {
      const copyButton = page.getByRole("button", { name: /Copy \[\[hosts\]\] block/ });
      await expect.poll(() => copyButton.count()).toBe(1);
      await page.locator("body").focus();
      const visited: string[] = [];
      for (let tab = 0; tab < MAX_TABS && !visited.at(-1)?.startsWith("BUTTON"); tab++) {
        await page.keyboard.press("Tab");
        visited.push(
          await page.evaluate<string>(
            "`${document.activeElement?.tagName} ${document.activeElement?.textContent}`",
          ),
        );
      }
      expect(visited[0]).toBe("A Skip to the hosts");
      expect(visited.some((entry) => entry.startsWith("SUMMARY Timeline"))).toBe(true);
      expect(visited.at(-1)).toMatch(/^BUTTON Copy \[\[hosts\]\] block for 52:54:00:77:00:99/);
      await page.keyboard.press("Enter");
      await expect
        .poll(() => page.locator(".copy-status").textContent())
        .toBe("Copied to the clipboard.");
      const copied = await page.evaluate<string>("navigator.clipboard.readText()");
      expect(copied).toBe(await page.locator("#unknown-list textarea").inputValue());
      expect(copied).toMatch(/^\[\[hosts\]\]\nname = "node4"\nmac = "52:54:00:77:00:99"/);
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    "renders the finished install for the screenshot",
    async () => {
      await page.locator('article[data-host="node1"] details summary').first().click();
      const file = process.env.UPDATE_SCREENSHOTS ? SCREENSHOT : join(profile, "dashboard.png");
      await mkdir(join(file, ".."), { recursive: true });
      const image = await page.screenshot({ path: file, fullPage: true });
      expect(image.subarray(1, 4).toString()).toBe("PNG");
    },
    BROWSER_TIMEOUT_MS,
  );

  it(
    "reconnects by itself when the server goes away and comes back, and shows its snapshot",
    async () => {
      const port = Number(new URL(dashboard.url).port);
      await dashboard.close();
      await expect
        .poll(() => page.locator("#connection").textContent())
        .toBe("✗ connection lost, reconnecting…");
      dashboard = await startDashboard({
        port,
        inventory: env.inventory,
        store: env.store,
        events,
        unknownMachines,
      });
      // EventSource waits the server's `retry` (2 s) between attempts.
      await expect
        .poll(() => page.locator("#connection").textContent(), { timeout: RECONNECT_WAIT_MS })
        .toBe("● live");
      await replay([{ source: "unknown", mac: "52:54:00:77:00:98" }], targets());
      await expect.poll(() => page.locator("#unknown-list li").count()).toBe(2);
      expect(await page.evaluate("window.notReloaded")).toBe(true);
    },
    BROWSER_TIMEOUT_MS,
  );
});
