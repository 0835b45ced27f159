/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (the page.evaluate callbacks run in the browser: document, window, getComputedStyle, requestAnimationFrame)
/**
 * Browser test of the commissioning view: runs the demo in-process, opens the inspector in Debian's chromium
 * (playwright-core, no downloaded browser), and checks the actor tree, a live statechart highlight, and an LRC's
 * status and progress changing live. Saves test-results/inspector.png. Under load (1,000 actors, 10k events/s) it
 * asserts behaviour only (no event lost, a click still selects); the frame gap is printed, not asserted.
 * Skipped only when /usr/bin/chromium is missing outside CI; in CI (process.env.CI set) it must run.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnyActorRef, assign, setup } from 'xstate';
import { type Demo, startDemo } from '../../src/demo/scenario.js';
import { silentLogger } from '../../src/engine/logging.js';

const CHROMIUM = '/usr/bin/chromium';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const screenshot = join(root, 'test-results', 'inspector.png');
const canRun = existsSync(CHROMIUM) || Boolean(process.env.CI);

/**
 * Click `target` until `shown` appears (each wait `waitMs`, at most `attempts` clicks); returns the clicks made. The
 * tree moves rows while lifecycles come and go, and a click that Playwright aimed at a row can land on the row that
 * moved under the pointer between its hit test and the click (a run with two test files per core once waited 30 s
 * for a chart after a click that selected nothing).
 */
async function clickUntil(
  target: Locator,
  shown: Locator,
  attempts: number,
  waitMs: number,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    await target.click({ timeout: 30_000 });
    try {
      await shown.waitFor({ timeout: waitMs });
      return attempt;
    } catch (err) {
      if (attempt >= attempts) throw err;
    }
  }
}

/** Click the first tree row of an actor of `machine` until the page shows one selected (`clickUntil`). */
async function selectActor(page: Page, machine: string): Promise<void> {
  const rows = `#actor-tree li.actor[data-machine="${machine}"] > .row`;
  await clickUntil(page.locator(rows).first(), page.locator(`${rows}.selected`).first(), 5, 5_000);
}

describe.skipIf(!canRun)('inspector in a browser', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    demo = await startDemo({ logger: silentLogger(), port: 0 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it('shows the actor tree, live statecharts and LRC progress', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const external: string[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(demo.url.replace(/\/$/, '')) && !req.url().startsWith('ws://')) {
        external.push(req.url());
      }
    });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(demo.url);

    // the actor tree, under its supervisors
    await page.locator('#conn.on').waitFor({ timeout: 10_000 });
    const tree = page.locator('#actor-tree');
    await tree.locator('.row', { hasText: 'supervisor:root' }).first().waitFor();
    await tree.locator('.row', { hasText: 'supervisor:devices' }).first().waitFor();
    const mount = tree.locator('li.actor[data-machine="mountPoller"] > .row').first();
    await mount.waitFor();
    // a supervised child sits inside its supervisor's subtree
    expect(
      await tree.locator('li.actor[data-machine="supervisor"] li.actor[data-machine="mountPoller"]').count(),
    ).toBe(1);

    // a selected actor's statechart, with its current state highlighted
    await selectActor(page, 'mountPoller');
    await page.locator('#chart svg g.state.active[data-path="tracking"]').waitFor();
    const context = await page.locator('#detail-context').textContent();
    expect(context).toContain('[REDACTED]');
    expect(context).not.toContain('hunter2');

    // supervisor restarts of the crashing controller appear
    await page.locator('#engine-log li.restart').first().waitFor({ timeout: 15_000 });
    // Status outcomes accumulate
    await page.locator('#status-recent li').first().waitFor({ timeout: 10_000 });

    expect(demo.simulators).toContain('lrc');
    {
      // an LRC's status changes and its progress appears, live
      const card = page.locator('.view-panel[data-machine="lrc"] .view-card[data-active="true"]').first();
      await card.waitFor({ timeout: 15_000 });
      const first = await card.locator('.status').textContent();
      await page
        .locator(
          '.view-panel[data-machine="lrc"] .view-progress:not([data-progress=""]):not([data-progress="0"])',
        )
        .first()
        .waitFor({ timeout: 20_000 });
      await page.waitForFunction(
        (before) =>
          [...document.querySelectorAll('.view-panel[data-machine="lrc"] .view-card .status')].some(
            (s) => s.textContent !== before,
          ),
        first,
        { timeout: 20_000 },
      );
      await selectActor(page, 'lrc');
      await page.locator('#chart svg g.state.active').first().waitFor();
    }

    expect(demo.simulators).toContain('katcp');
    {
      // issue 9 item 6: the InspectingClient's card: synced, its sensors with status colours, values changing live
      const card = page.locator('.view-panel[data-machine="inspectingClient"] .view-card').first();
      await card.locator('.head .status.synced').waitFor({ timeout: 20_000 });
      expect(await card.locator('.result').textContent()).toContain(
        '[connected synced !model_changed data_synced]',
      );
      const counter = card.locator('.view-list tr[data-name="counter"]');
      await counter.locator('td.status.nominal').waitFor({ timeout: 20_000 });
      const value = await counter.locator('td.data').textContent();
      await page.waitForFunction(
        (before) =>
          document.querySelector(
            '.view-panel[data-machine="inspectingClient"] .view-list tr[data-name="counter"] td.data',
          )?.textContent !== before,
        value,
        { timeout: 20_000 },
      );
      const colour = await counter.locator('td.status').evaluate((td) => getComputedStyle(td).color);
      expect(colour).toBe('rgb(21, 128, 61)'); // --ok
      await selectActor(page, 'inspectingClient');
      await page.locator('#chart svg g.state.active').first().waitFor();
    }

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('issue 11 item 7: shows the CA channel card with a live value and rate, and the circuit card', async () => {
    expect(demo.simulators).toContain('ca');
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    await page.goto(demo.url);
    await page.locator('#conn.on').waitFor({ timeout: 10_000 });
    const panel = page.locator('.view-panel[data-machine="caChannel"]');
    const card = panel.locator('.view-card', { hasText: 'demo:random_walk:x' }).first();
    await card.locator('.head .status.connected').waitFor({ timeout: 20_000 });
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('.view-panel[data-machine="caChannel"] .view-card')].some(
          (c) => c.textContent?.includes('demo:random_walk:x') && /rate \d+\.\d\/s/.test(c.textContent ?? ''),
        ),
      undefined,
      { timeout: 20_000 },
    );
    const text = await card.locator('.result').textContent();
    expect(text).toMatch(/value -?\d/);
    expect(text).toContain('DBR_DOUBLE x1');
    expect(text).toContain('read/write');
    // the value changes live
    const value = /value (\S+)/.exec(text ?? '')?.[1];
    await page.waitForFunction(
      (before) =>
        [...document.querySelectorAll('.view-panel[data-machine="caChannel"] .view-card')].some(
          (c) =>
            c.textContent?.includes('demo:random_walk:x') &&
            /value (\S+)/.exec(c.textContent ?? '')?.[1] !== before,
        ),
      value,
      { timeout: 20_000 },
    );
    // the circuit: its server, priority and channel count
    const circuit = page.locator('.view-panel[data-machine="caCircuit"] .view-card').first();
    await circuit.locator('.head .status.connected').waitFor({ timeout: 20_000 });
    await page.waitForFunction(
      () =>
        /channels 2/.test(
          document.querySelector('.view-panel[data-machine="caCircuit"] .view-card .result')?.textContent ??
            '',
        ),
      undefined,
      { timeout: 20_000 },
    );
    // the chart's first request fails (a busy or restarting server): the page asks again and draws it
    let refused = 0;
    await page.route('**/charts/caChannel.svg', (route) =>
      refused++ === 0 ? route.fulfill({ status: 503, body: 'busy' }) : route.continue(),
    );
    await selectActor(page, 'caChannel');
    await page.locator('#chart svg g.state.active').first().waitFor();
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stays responsive with 1,000 live actors and 10k events/s, and the engine loses no event', async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    await page.goto(demo.url);
    await page.locator('#conn.on').waitFor({ timeout: 10_000 });
    // longest gap between animation frames while the load runs
    await page.evaluate(() => {
      const w = window as unknown as { maxGap: number; last: number };
      w.maxGap = 0;
      w.last = performance.now();
      const tick = (t: number) => {
        w.maxGap = Math.max(w.maxGap, t - w.last);
        w.last = t;
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });

    // the row as the page first drew it: the 1,000 actors below rebuild the tree many times, moving this element
    // (a row under the pointer is never replaced by a copy)
    const devicesRow = page.locator('#actor-tree .row', { hasText: 'supervisor:devices' }).first();
    await devicesRow.waitFor({ timeout: 10_000 });
    const firstRow = await devicesRow.elementHandle();

    const counter = setup({ types: { context: {} as { n: number } } }).createMachine({
      id: 'loadCounter',
      context: { n: 0 },
      initial: 'idle',
      states: {
        idle: { on: { PING: { target: 'busy', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
        busy: { on: { PING: { target: 'idle', actions: assign({ n: ({ context }) => context.n + 1 }) } } },
      },
    });
    const refs: AnyActorRef[] = [];
    for (let g = 0; g < 4; g++) {
      const sup = demo.system.supervisor(`load-${g}`);
      sup.startChildren(Array.from({ length: 250 }, (_, i) => ({ id: `load-${g}-${i}`, logic: counter })));
      for (let i = 0; i < 250; i++) refs.push(sup.child(`load-${g}-${i}`)!);
    }
    await page.waitForFunction(
      () => Number.parseInt(document.querySelector('#stats')?.textContent ?? '0', 10) >= 1000,
      undefined,
      { timeout: 15_000 },
    );

    // 10k events/s for 3 s (each 10 ms tick catches up with 10 events per elapsed ms), round-robin over 1,000 actors
    let sent = 0;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const elapsed = Math.min(3000, Date.now() - started);
        while (sent < elapsed * 10) refs[sent++ % refs.length].send({ type: 'PING' });
        if (elapsed >= 3000) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const total = refs.reduce((n, r) => n + r.getSnapshot().context.n, 0);
    expect(total).toBe(sent);
    expect(sent).toBe(30_000);

    // the page kept drawing frames and a click still selects. The frame gap and click latency are reported
    // figures, not assertions (no wall-clock thresholds in `npm test`: they fail on a loaded machine).
    const maxGap = await page.evaluate(() => (window as unknown as { maxGap: number }).maxGap);
    expect(
      await page.evaluate(() => document.querySelectorAll('#actor-tree .row[data-key]').length),
    ).toBeGreaterThan(1000);
    expect(await firstRow!.evaluate((row) => row.isConnected)).toBe(true);
    // a click that lands while the tree moves the row can select its neighbour: clicked again until the detail shows
    // it, the attempts reported with the latency
    const t0 = Date.now();
    const title = page.locator('#detail-title', { hasText: 'supervisor:devices' });
    const attempts = await clickUntil(devicesRow, title, 4, 15_000);
    console.info(
      `e2e load: ${sent} events, longest frame gap ${Math.round(maxGap)} ms, click to selection ${Date.now() - t0} ms (${attempts} click${attempts > 1 ? 's' : ''})`,
    );
    await page.close();
  }, 120_000); // its waits add up to more than the default 60 s on a loaded machine (a hang guard, not a threshold)
});
