// Drives Debian's chromium (headless) through the review page of a running Api. Started by
// tests/EndToEnd/ReviewPageTests.cs, which seeds PostgreSQL and passes what it expects in REVIEW_EXPECT.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.REVIEW_BASE_URL;
const key = process.env.REVIEW_API_KEY;
const expect = JSON.parse(process.env.REVIEW_EXPECT);
const shots = process.env.REVIEW_SCREENSHOTS; // folder for the README's screenshots, when set

// A request without the key is refused, and the page itself says so when the key is wrong.
const refused = await fetch(`${base}/v1/review/documents`);
assert.equal(refused.status, 401, 'request without a key');
assert.equal((await fetch(`${base}/v1/pages/${expect.table.pageId}/image`)).status, 401, 'page image without a key');

// The endpoints the page uses are in the OpenAPI document.
const openapi = await (await fetch(`${base}/openapi/v1.json`)).json();
for (const path of ['/v1/review/documents', '/v1/review/documents/{id}', '/v1/pages/{id}/image', '/v1/molecules/depiction', '/v1/results/{id}/corrections']) {
  assert.ok(openapi.paths[path], `OpenAPI documents ${path}`);
}

const profile = mkdtempSync(join(tmpdir(), 'docpipe-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
const shot = async (page, name) => {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, name), fullPage: true });
};
const step = (name) => console.log('-- ' + name);

try {
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('pageerror', e => console.log('page error: ' + e.message));

  step('wrong key is refused by the login form');
  await page.goto(`${base}/review/`);
  await page.fill('input[name=reviewer]', expect.reviewer);
  await page.fill('input[name=key]', 'not-the-key');
  await page.click('form#login button[type=submit]');
  await page.waitForSelector('#login-error:text("refused")');
  await shot(page, 'review-login.png');

  step('list loads with the right counts');
  await page.fill('input[name=reviewer]', expect.reviewer);
  await page.fill('input[name=key]', key);
  await page.click('form#login button[type=submit]');
  await page.waitForSelector('#documents tbody tr');
  assert.equal(await page.textContent('[data-count=documents]'), `${expect.documents} documents`);
  assert.equal(await page.locator('#documents tbody tr').count(), expect.documents);
  for (const [status, n] of Object.entries(expect.byStatus)) {
    assert.equal(await page.textContent(`[data-count=status-${status}]`), `${status}: ${n}`);
  }
  assert.equal(await page.textContent('[data-count=invalid]'), `invalid results: ${expect.invalidResults}`);
  await shot(page, 'review-list.png');

  step('filters and paging');
  await page.selectOption('select[name=status]', 'failed');
  await page.click('#filters button[type=submit]');
  await page.waitForFunction(() => document.body.dataset.ready?.includes('status=failed'));
  assert.equal(await page.locator('#documents tbody tr').count(), expect.byStatus.failed);
  assert.match(await page.textContent('#documents tbody tr'), new RegExp(expect.failedReason));
  const rowsFor = async (query) => {
    await page.goto(`${base}/review/#/?${query}`);
    await page.waitForFunction((q) => document.body.dataset.ready === '#/?' + q, query);
    return page.locator('#documents tbody tr').count();
  };
  assert.equal(await rowsFor('reason=' + expect.failedReason), 1, 'reason filter');
  assert.equal(await rowsFor('reason=' + expect.invalidReason), expect.documentsWithInvalidResults, 'reason filter on validation errors');
  assert.equal(await rowsFor('checkpoint=demo-molecule%401'), 1, 'checkpoint filter (name@version)');
  assert.equal(await rowsFor('checkpoint=demo-score'), 1, 'checkpoint filter (name)');
  assert.equal(await rowsFor('valid=false'), expect.documentsWithInvalidResults, 'invalid filter');
  assert.equal(await rowsFor('task=table'), expect.tableDocuments, 'task filter');
  await page.goto(`${base}/review/#/?pageSize=2&page=2`);
  await page.waitForFunction(() => document.body.dataset.ready?.includes('page=2'));
  assert.equal(await page.textContent('#page-of'), `page 2 of ${Math.ceil(expect.documents / 2)}`);
  assert.equal(await page.locator('#documents tbody tr').count(), 2);

  step('table page: cells and boxes');
  await page.goto(`${base}/review/#/documents/${expect.table.documentId}`);
  await page.waitForSelector('.cell-box');
  assert.equal(await page.locator('.rendered-table td, .rendered-table th').count(), expect.table.cells);
  assert.equal(await page.locator('.cell-box').count(), expect.table.cells);
  await page.hover('.rendered-table td >> nth=0');
  assert.equal(await page.locator('.cell-box.hot').count(), 1, 'hovering a cell highlights one box');
  const box = await page.locator('.cell-box.hot').boundingBox();
  assert.ok(box && box.width > 2 && box.height > 2, 'the highlighted box has a size on the image');
  await shot(page, 'review-table.png');

  step('molecule: depiction by RDKit');
  await page.goto(`${base}/review/#/documents/${expect.molecule.documentId}`);
  await page.waitForFunction(() => document.querySelector('img.molecule-svg')?.naturalWidth > 0);
  assert.equal(await page.textContent('#canonical'), expect.molecule.canonical);
  await shot(page, 'review-molecule.png');

  step('score: verovio renders the **kern');
  await page.goto(`${base}/review/#/documents/${expect.score.documentId}`);
  await page.waitForSelector('.notation[data-rendered=verovio] svg', { timeout: 60000 });
  assert.equal(await page.locator('.notation svg g.note').count(), expect.score.notes);
  await shot(page, 'review-score.png');

  step('report: UNVERIFIED banner');
  await page.goto(`${base}/review/#/documents/${expect.report.documentId}`);
  await page.waitForSelector('#unverified');
  assert.match(await page.textContent('.impression'), new RegExp(expect.report.impression));
  await shot(page, 'review-report.png');

  step('correction round trip');
  await page.goto(`${base}/review/#/documents/${expect.molecule.documentId}`);
  await page.waitForSelector('form.review textarea[name=smiles]');
  await page.fill('form.review textarea[name=smiles]', expect.molecule.corrected);
  await page.click('form.review button[type=submit]');
  await page.waitForSelector('.reviewed');
  assert.match(await page.textContent('.reviewed'), new RegExp(`Reviewed by ${expect.reviewer}.*corrected`));
  console.log('ok: every review page check passed');
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
