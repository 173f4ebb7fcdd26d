/**
 * nodis-ha's page in a real headless Chromium (Debian's, driven by playwright-core): the graph
 * shows every node and sentinel with the replication arrows, the kill button fails the master
 * over, and the graph, the table and the timeline follow; restart brings the old master back as
 * a replica. With NODIS_HA_SCREENSHOTS=<dir> it saves the before/after pictures shown in README.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { HaProcess, addresses, closed, until } from './helpers/ha.js';

interface PageState {
  master: string;
  masters: string[];
  replicas: number;
  sentinels: number;
  replEdges: number;
  watchEdges: number;
  updates: number;
}

describe('nodis-ha --web in Chromium', () => {
  let ha: HaProcess | null = null;
  let browser: Browser | null = null;
  after(async () => {
    await browser?.close();
    await ha?.stop();
  });

  it('draws the topology and fails over from the kill button', async () => {
    ha = new HaProcess(['up', '--web', '0', '--down-after', '1000', '--load']);
    const url = await until('the page address', () => /the page is at (http:\S+)/.exec(ha!.err)?.[1], 60000);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    const state = (): Promise<PageState> =>
      page.evaluate(() => {
        const ha = (window as unknown as { ha: { cy: { nodes(s: string): { length: number; map<T>(f: (n: { id(): string }) => T): T[] }; edges(s: string): { length: number } }; snapshot: { master: string } | null; updates: number } }).ha;
        return {
          master: ha.snapshot?.master ?? '',
          masters: ha.cy.nodes('.master').map((n) => n.id()),
          replicas: ha.cy.nodes('.replica').length,
          sentinels: ha.cy.nodes('.sentinel').length,
          replEdges: ha.cy.edges('.repl').length,
          watchEdges: ha.cy.edges('.watch').length,
          updates: ha.updates,
        };
      });
    const before = await until('the graph', async () => {
      const s = await state();
      return s.masters.length === 1 && s.replicas === 2 && s.sentinels === 3 && s.replEdges === 2 && s.watchEdges === 3 ? s : null;
    });
    const oldMaster = before.masters[0]!;
    assert.equal(before.master, oldMaster);
    const shots = process.env.NODIS_HA_SCREENSHOTS;
    if (shots !== undefined) await page.screenshot({ path: path.join(shots, 'nodis-ha-before.png') });

    await page.click('#kill-master');
    const afterKill = await until('the failover on the page', async () => {
      const s = await state();
      const switched = await page.locator('#timeline [data-channel="+switch-master"]').count();
      return switched > 0 && s.masters.length === 1 && s.masters[0] !== oldMaster && s.master === s.masters[0] && s.replEdges === 1 ? s : null;
    });
    assert.notEqual(afterKill.master, oldMaster);
    assert.match(await page.locator('#failover').innerText(), /last failover: .* → .* in \d+ ms/);
    assert.equal(await page.locator(`#nodes tr[data-address="${oldMaster}"] td.down`).count(), 1);

    await page.click(`#nodes tr[data-address="${oldMaster}"] button[data-action="restart"]`);
    await until('the old master back as a replica', async () => {
      const s = await state();
      const row = `#nodes tr[data-address="${oldMaster}"]`;
      const role = await page.locator(`${row} td:nth-child(3)`).innerText();
      const link = await page.locator(`${row} td:nth-child(4)`).innerText();
      return role === 'slave' && link === 'up' && s.replEdges === 2 ? s : null;
    });
    if (shots !== undefined) await page.screenshot({ path: path.join(shots, 'nodis-ha-after.png') });

    const all = addresses(ha.out);
    await ha.stop();
    for (const a of all) assert.ok(await until(`${a} to close`, () => closed(a), 15000));
  });
});
