// The review page: plain ES module, no build step. Every API call carries the key kept in sessionStorage.
const app = document.getElementById('app');
const KEY = 'docpipe.apiKey';
const REVIEWER = 'docpipe.reviewer';
const TASK_FIELDS = { table: ['html'], molecule: ['smiles'], score: ['kern'], report: ['findings', 'impression'] };

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
};

class Unauthorized extends Error {}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), 'X-Api-Key': sessionStorage.getItem(KEY) || '' } });
  if (response.status === 401) throw new Unauthorized();
  return response;
}

async function json(path, options) {
  const response = await api(path, options);
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new Error(problem.title ? `${problem.title}: ${problem.detail || ''}` : `HTTP ${response.status}`);
  }
  return response.json();
}

async function blobUrl(path) {
  const response = await api(path);
  if (!response.ok) return null;
  return URL.createObjectURL(await response.blob());
}

function showLogin(message) {
  sessionStorage.removeItem(KEY);
  document.getElementById('who').textContent = '';
  document.getElementById('logout').hidden = true;
  const error = el('p', { class: 'error', id: 'login-error', text: message || '' });
  const form = el('form', { class: 'login', id: 'login' },
    el('h2', { text: 'Sign in' }),
    el('label', {}, 'Your name (recorded with corrections)', el('input', { name: 'reviewer', required: true, value: sessionStorage.getItem(REVIEWER) || '' })),
    el('label', {}, 'API key', el('input', { name: 'key', type: 'password', required: true })),
    el('button', { type: 'submit', text: 'Sign in' }), error);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, form.key.value);
    sessionStorage.setItem(REVIEWER, form.reviewer.value.trim());
    const probe = await api('/v1/review/documents?pageSize=1').catch(() => null);
    if (!probe || probe.status === 401) { showLogin('That key was refused.'); return; }
    route();
  });
  app.replaceChildren(form);
}

function setHeader() {
  document.getElementById('who').textContent = sessionStorage.getItem(REVIEWER) || '';
  const logout = document.getElementById('logout');
  logout.hidden = false;
  logout.onclick = () => { sessionStorage.removeItem(KEY); showLogin(); };
}

// ---------- list ----------
async function showList(params) {
  const q = new URLSearchParams(params);
  if (!q.get('page')) q.set('page', '1');
  if (!q.get('pageSize')) q.set('pageSize', '20');
  const data = await json('/v1/review/documents?' + q);
  const field = (name, control) => el('label', {}, name, control);
  const select = (name, options) => el('select', { name }, options.map(o => el('option', { value: o, text: o || 'any', selected: (q.get(name) || '') === o })));
  const filters = el('form', { class: 'filters', id: 'filters' },
    field('task', select('task', ['', 'table', 'molecule', 'score', 'report'])),
    field('status', select('status', ['', 'received', 'preparing', 'queued', 'done', 'failed', 'partial'])),
    field('checkpoint', el('input', { name: 'checkpoint', placeholder: 'name or name@version', value: q.get('checkpoint') || '' })),
    field('results', select('valid', ['', 'true', 'false'])),
    field('reason', el('input', { name: 'reason', placeholder: 'text in an error', value: q.get('reason') || '' })),
    el('button', { type: 'submit', text: 'Filter' }));
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) next.set(k, v);
    location.hash = '#/?' + next;
  });
  const c = data.counts;
  const counts = el('div', { class: 'counts', id: 'counts' },
    el('span', { 'data-count': 'documents', text: `${data.total} documents` }),
    Object.entries(c.byStatus).map(([k, v]) => el('span', { 'data-count': 'status-' + k, text: `${k}: ${v}` })),
    Object.entries(c.byTask).map(([k, v]) => el('span', { 'data-count': 'task-' + k, text: `${k}: ${v}` })),
    el('span', { 'data-count': 'valid', text: `valid results: ${c.validResults}` }),
    el('span', { 'data-count': 'invalid', text: `invalid results: ${c.invalidResults}` }),
    el('span', { 'data-count': 'reviewed', text: `reviewed: ${c.reviewedResults}` }));
  const rows = data.items.map(d => el('tr', { 'data-document': d.id },
    el('td', {}, el('a', { href: '#/documents/' + d.id, text: d.fileName || d.id })),
    el('td', { text: d.task }),
    el('td', { class: 'status-' + d.status, text: d.status }),
    el('td', { text: String(d.pages) }),
    el('td', {}, `${d.results}`, d.invalidResults ? el('span', { class: 'invalid', text: ` (${d.invalidResults} invalid)` }) : ''),
    el('td', { text: String(d.reviewedResults) }),
    el('td', { text: d.checkpoints.join(', ') }),
    el('td', { class: 'error', text: d.error || '' }),
    el('td', { text: new Date(d.receivedAt).toLocaleString() })));
  const table = el('table', { class: 'list', id: 'documents' },
    el('thead', {}, el('tr', {}, ['file', 'task', 'status', 'pages', 'results', 'reviewed', 'checkpoint', 'reason', 'received'].map(h => el('th', { text: h })))),
    el('tbody', {}, rows));
  const page = Number(q.get('page'));
  const pages = Math.max(1, Math.ceil(data.total / data.pageSize));
  const go = (n) => { const next = new URLSearchParams(q); next.set('page', String(n)); location.hash = '#/?' + next; };
  const pager = el('div', { class: 'pager' },
    el('button', { disabled: page <= 1, onclick: () => go(page - 1), text: '‹ previous' }),
    el('span', { id: 'page-of', text: `page ${page} of ${pages}` }),
    el('button', { disabled: page >= pages, onclick: () => go(page + 1), text: 'next ›' }));
  app.replaceChildren(filters, counts, table, pager);
}

// ---------- document ----------
async function showDocument(id) {
  const doc = await json('/v1/review/documents/' + id);
  const head = el('div', {},
    el('h2', { text: doc.fileName || doc.id }),
    el('p', {}, `${doc.task} · ${doc.mediaType} · from ${doc.source} · `, el('span', { class: 'status-' + doc.status, id: 'doc-status', text: doc.status })),
    doc.error ? el('div', { class: 'failure', id: 'doc-error', text: doc.error }) : null);
  app.replaceChildren(head);
  for (const page of doc.pages) app.append(await pageSection(doc, page));
}

async function pageSection(doc, page) {
  const img = el('img', { alt: `page ${page.index + 1}`, 'data-page-image': page.id });
  const wrap = el('div', { class: 'image-wrap' }, img);
  const side = el('div', { class: 'results' });
  const section = el('section', { class: 'page', 'data-page': page.index },
    el('h3', { text: `Page ${page.index + 1} (${page.width} × ${page.height} px)` }),
    el('div', { class: 'page-body' }, el('div', {}, wrap), side));
  const url = await blobUrl(page.imageUrl);
  const loaded = new Promise(resolve => { img.onload = resolve; img.onerror = resolve; });
  if (url) img.src = url;
  if (!page.jobs.length) side.append(el('p', { text: 'No inference job for this page yet.' }));
  for (const job of page.jobs) side.append(await jobPanel(page, job, wrap, img, loaded));
  return section;
}

async function jobPanel(page, job, wrap, img, loaded) {
  const r = job.result;
  const panel = el('div', { class: 'job', 'data-task': job.task, 'data-result': r ? r.id : null });
  panel.append(el('h4', { text: `${job.task} · ${job.status}` }));
  if (job.error) panel.append(el('div', { class: 'failure', text: job.error }));
  if (!r) return panel;
  if (!r.valid) {
    panel.append(el('div', { class: 'failure invalid-result' }, el('strong', { text: 'Invalid: ' }),
      (r.validationErrors || []).join('; ') || 'failed its checks'));
  }
  const p = r.payload || {};
  const latest = r.corrections[0];
  const view = latest ? latest.payload : p;
  if (job.task === 'table') await tableView(panel, page, p, view, wrap, img, loaded);
  else if (job.task === 'molecule') await moleculeView(panel, r, view);
  else if (job.task === 'score') await scoreView(panel, view);
  else if (job.task === 'report') reportView(panel, r, view);
  panel.append(provenance(job, r), reviewForm(job.task, r, p, latest));
  return panel;
}

// Only table markup and text survive: reviewer-entered HTML is shown through the same filter as the model's.
function sanitizeTable(html) {
  const parsed = new DOMParser().parseFromString(html || '', 'text/html').querySelector('table');
  if (!parsed) return null;
  const copy = (node) => {
    const out = el(node.localName);
    for (const a of ['rowspan', 'colspan']) if (node.hasAttribute(a)) out.setAttribute(a, String(parseInt(node.getAttribute(a), 10) || 1));
    for (const child of node.children) {
      if (['thead', 'tbody', 'tr'].includes(child.localName) && ['table', 'thead', 'tbody'].includes(node.localName)) out.append(copy(child));
      else if (['td', 'th'].includes(child.localName) && node.localName === 'tr') {
        const cell = copy(child);
        cell.textContent = child.textContent;
        out.append(cell);
      }
    }
    return out;
  };
  return copy(parsed);
}

async function tableView(panel, page, model, view, wrap, img, loaded) {
  const table = sanitizeTable(view.html);
  const rendered = el('div', { class: 'rendered-table' }, table || el('p', { text: 'No table in the output.' }));
  panel.append(rendered);
  const cells = model.cells || [];
  await loaded;
  // Boxes are in PDF points on born-digital pages, else in image pixels.
  const sourceWidth = model.boxUnits === 'pt' && page.pointWidth ? page.pointWidth : page.width;
  const boxes = [];
  const place = () => {
    const scale = img.clientWidth / sourceWidth;
    boxes.forEach(({ box, node }) => Object.assign(node.style, {
      left: `${box.x0 * scale}px`, top: `${box.y0 * scale}px`, width: `${(box.x1 - box.x0) * scale}px`, height: `${(box.y1 - box.y0) * scale}px`,
    }));
  };
  cells.forEach((cell, i) => {
    if (!cell.box) return;
    const node = el('div', { class: 'cell-box', 'data-cell': i, title: `row ${cell.row + 1}, col ${cell.col + 1}: ${cell.text}` });
    boxes.push({ box: cell.box, node });
    wrap.append(node);
  });
  place();
  new ResizeObserver(place).observe(img);
  // The model's cells belong to the table as it wrote it; an edited table no longer lines up with them.
  if (table && view === model) {
    const rows = [...table.querySelectorAll('tr')];
    rows.forEach((tr, rowIndex) => {
      const inRow = cells.map((c, i) => ({ c, i })).filter(x => x.c.row === rowIndex);
      [...tr.children].forEach((td, k) => {
        const match = inRow[k];
        if (!match) return;
        td.dataset.cell = match.i;
        const box = wrap.querySelector(`.cell-box[data-cell="${match.i}"]`);
        const on = (hot) => { td.classList.toggle('hot', hot); if (box) box.classList.toggle('hot', hot); };
        td.addEventListener('mouseenter', () => on(true));
        td.addEventListener('mouseleave', () => on(false));
        if (box) { box.addEventListener('mouseenter', () => on(true)); box.addEventListener('mouseleave', () => on(false)); }
      });
    });
  }
  if (cells.some(c => c.pdfText !== null && c.pdfText !== undefined)) {
    panel.append(el('details', { class: 'born-digital' }, el('summary', { text: 'Model text vs PDF text per cell' }),
      el('table', { class: 'list' }, el('tr', {}, ['row', 'col', 'model', 'PDF'].map(h => el('th', { text: h }))),
        cells.map(c => el('tr', { class: c.modelText === c.pdfText ? '' : 'differs' },
          el('td', { text: c.row + 1 }), el('td', { text: c.col + 1 }), el('td', { text: c.modelText }), el('td', { text: c.pdfText ?? '' }))))));
  }
}

async function moleculeView(panel, r, view) {
  const smiles = view.smiles || '';
  const m = r.molecule || {};
  const depiction = el('div', { class: 'depiction' });
  panel.append(depiction, el('dl', { class: 'prov' },
    el('dt', { text: 'SMILES' }), el('dd', {}, el('code', { class: 'smiles', text: smiles })),
    el('dt', { text: 'canonical (RDKit)' }), el('dd', {}, el('code', { class: 'smiles', id: 'canonical', text: m.canonicalSmiles ?? 'unchecked' })),
    el('dt', { text: 'formula' }), el('dd', { text: m.formula ?? 'unchecked' }),
    el('dt', { text: 'RDKit validity' }), el('dd', { class: m.isValid ? 'valid' : 'invalid', text: m.isValid === undefined || m.isValid === null ? 'unchecked' : m.isValid ? 'valid' : 'invalid' })));
  if (!smiles) return;
  const response = await api('/v1/molecules/depiction?smiles=' + encodeURIComponent(smiles));
  if (response.ok) {
    // As an image, not inline markup: the SVG never joins this page's DOM.
    depiction.append(el('img', { class: 'molecule-svg', alt: smiles, src: URL.createObjectURL(await response.blob()) }));
  } else {
    const problem = await response.json().catch(() => ({}));
    depiction.append(el('p', { class: 'error', text: problem.title || 'No depiction.' }));
  }
}

let verovio;
async function toolkit() {
  if (!verovio) {
    verovio = (async () => {
      const { default: createVerovioModule } = await import('./vendor/node_modules/verovio/dist/verovio-module-hum.mjs');
      const { VerovioToolkit } = await import('./vendor/node_modules/verovio/dist/verovio.mjs');
      return new VerovioToolkit(await createVerovioModule());
    })();
  }
  return verovio;
}

async function scoreView(panel, view) {
  const notation = el('div', { class: 'notation' });
  panel.append(notation);
  try {
    const tk = await toolkit();
    tk.setOptions({ inputFrom: 'humdrum', pageWidth: 1400, scale: 35, adjustPageHeight: true });
    if (!tk.loadData(view.kern || '')) throw new Error('verovio could not read the **kern');
    // verovio writes the SVG itself from parsed notation; nothing of the model's text is inserted as markup.
    notation.innerHTML = tk.renderToSVG(1);
    notation.dataset.rendered = 'verovio';
  } catch (e) {
    notation.append(el('p', { class: 'error', text: String(e.message || e) }));
  }
  panel.append(el('details', {}, el('summary', { text: '**kern text' }), el('pre', { text: view.kern || '' })));
}

function reportView(panel, r, view) {
  const d = r.delivery;
  panel.append(
    el('div', { class: 'banner-unverified', id: 'unverified', text: 'UNVERIFIED: machine-generated draft, not a signed report' }),
    el('h5', { text: 'FINDINGS' }), el('p', { class: 'findings', text: view.findings || '' }),
    el('h5', { text: 'IMPRESSION' }), el('p', { class: 'impression', text: view.impression || '' }),
    el('p', { class: 'delivery' }, 'SR to PACS: ', d
      ? `${d.status} (${d.destination}, ${d.attempts} attempt(s))${d.sentAt ? ', sent ' + new Date(d.sentAt).toLocaleString() : ''}${d.lastError ? ': ' + d.lastError : ''}`
      : 'not sent'));
}

function provenance(job, r) {
  return el('dl', { class: 'prov' },
    el('dt', { text: 'checkpoint' }), el('dd', { class: 'checkpoint', text: `${r.checkpoint}@${r.checkpointVersion}` }),
    el('dt', { text: 'prompt' }), el('dd', {}, el('code', { text: r.promptPrefix })),
    el('dt', { text: 'tokens' }), el('dd', { text: `${r.promptTokens} prompt, ${r.generatedTokens} generated` }),
    el('dt', { text: 'timings' }), el('dd', { text: `prefill ${r.prefillMs.toFixed(1)} ms, decode ${r.decodeMs.toFixed(1)} ms` }),
    el('dt', { text: 'job' }), el('dd', { text: `attempt(s) ${job.attempts}, finished ${job.finishedAt ? new Date(job.finishedAt).toLocaleString() : '—'}` }));
}

function reviewForm(task, r, model, latest) {
  const fields = TASK_FIELDS[task] || [];
  const box = el('form', { class: 'review', 'data-review': r.id });
  if (latest) box.append(el('p', { class: 'reviewed', text: `Reviewed by ${latest.reviewedBy} at ${new Date(latest.reviewedAt).toLocaleString()}${latest.edited ? ' (corrected)' : ' (accepted as is)'}` }));
  for (const f of fields) {
    box.append(el('label', {}, f, el('textarea', { name: f }, (latest ? latest.payload[f] : model[f]) || '')));
  }
  const message = el('span', { class: 'review-message' });
  box.append(el('button', { type: 'submit', text: 'Accept' }), ' ', message);
  box.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { reviewer: sessionStorage.getItem(REVIEWER) || 'unknown' };
    for (const f of fields) body[f] = box[f].value;
    try {
      await json(`/v1/results/${r.id}/corrections`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      message.textContent = 'Saved.';
      route();
    } catch (err) {
      if (err instanceof Unauthorized) showLogin('The key was refused.');
      else message.textContent = err.message;
    }
  });
  return box;
}

// ---------- routing ----------
async function route() {
  if (!sessionStorage.getItem(KEY)) { showLogin(); return; }
  setHeader();
  const hash = location.hash || '#/';
  try {
    const doc = hash.match(/^#\/documents\/([0-9a-f-]{36})/i);
    if (doc) await showDocument(doc[1]);
    else await showList(Object.fromEntries(new URLSearchParams(hash.split('?')[1] || '')));
    document.body.dataset.ready = hash;
  } catch (e) {
    if (e instanceof Unauthorized) showLogin('The key was refused.');
    else app.replaceChildren(el('p', { class: 'error', text: String(e.message || e) }));
  }
}

window.addEventListener('hashchange', route);
route();
