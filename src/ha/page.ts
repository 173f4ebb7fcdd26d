/**
 * The page of `nodis-ha --web`: the topology as a graph (data nodes as circles, sentinels as
 * diamonds; a solid arrow from a master to each replica it feeds, a dashed line from each
 * sentinel to the master it names), offsets over time, the event timeline, the failover and
 * load figures, and the same actions as the terminal view. Snapshots arrive over SSE.
 * `window.ha` exposes the graph and the last snapshot (the browser tests read them).
 */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>nodis-ha</title>
<link rel="stylesheet" href="/vendor/uPlot.min.css">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { padding: 10px 16px; background: #1d2330; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  main { display: grid; grid-template-columns: 1.2fr 1fr; gap: 12px; padding: 12px; }
  section { background: #fff; border-radius: 6px; padding: 10px; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  #graph { height: 360px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; }
  .master { color: #1a7f37; font-weight: 600; } .slave { color: #0a58ca; } .down { color: #c62828; font-weight: 600; }
  #timeline { height: 300px; overflow-y: auto; font: 12px ui-monospace, monospace; }
  #timeline div { padding: 1px 0; border-bottom: 1px dotted #eee; }
  .ev-switch { background: #e8f5e9; } .ev-down { background: #ffebee; }
  button { margin: 1px; font-size: 12px; }
  #status { font-size: 13px; }
</style>
</head>
<body>
<header><h1>nodis-ha</h1><span id="title"></span><span id="status"></span></header>
<main>
  <section><h2>Topology</h2><div id="graph"></div>
    <div><button id="kill-master" data-action="kill-master">Kill the master</button>
    <button data-action="add-replica">Add a replica</button></div></section>
  <section><h2>Failover</h2><div id="failover"></div><div id="load"></div>
    <h2 style="margin-top:10px">Data nodes</h2><table id="nodes"></table>
    <h2 style="margin-top:10px">Sentinels</h2><table id="sentinels"></table></section>
  <section><h2>Replication offsets</h2><div id="chart"></div></section>
  <section><h2>Events</h2><div id="timeline"></div></section>
</main>
<script src="/vendor/cytoscape.min.js"></script>
<script src="/vendor/uPlot.iife.min.js"></script>
<script>
const ha = { snapshot: null, cy: null, chart: null, updates: 0 };
window.ha = ha;
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
ha.cy = cytoscape({
  container: document.getElementById('graph'),
  style: [
    { selector: 'node', style: { label: 'data(label)', 'text-valign': 'bottom', 'text-margin-y': 4, 'font-size': 11, 'text-wrap': 'wrap', width: 44, height: 44, 'background-color': '#0a58ca' } },
    { selector: 'node.master', style: { 'background-color': '#1a7f37', width: 56, height: 56 } },
    { selector: 'node.down', style: { 'background-color': '#c62828' } },
    { selector: 'node.sentinel', style: { shape: 'diamond', 'background-color': '#8250df', width: 34, height: 34 } },
    { selector: 'node.sentinel.down', style: { 'background-color': '#c62828' } },
    { selector: 'edge.repl', style: { width: 3, 'line-color': '#1a7f37', 'target-arrow-color': '#1a7f37', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier' } },
    { selector: 'edge.repl.broken', style: { 'line-color': '#c62828', 'target-arrow-color': '#c62828', 'line-style': 'dotted' } },
    { selector: 'edge.watch', style: { width: 1, 'line-style': 'dashed', 'line-color': '#8250df', 'curve-style': 'bezier', 'target-arrow-shape': 'vee', 'target-arrow-color': '#8250df' } },
  ],
  layout: { name: 'preset' },
  userZoomingEnabled: false,
});
function positions(s) {
  const pos = {};
  const data = s.nodes.map((n) => n.address);
  const master = s.master;
  const replicas = data.filter((a) => a !== master);
  pos[master] = { x: 300, y: 150 };
  replicas.forEach((a, i) => { pos[a] = { x: 300 + (i - (replicas.length - 1) / 2) * 160, y: 300 }; });
  s.sentinels.forEach((t, i) => { pos[t.address] = { x: 300 + (i - (s.sentinels.length - 1) / 2) * 160, y: 20 }; });
  return pos;
}
function drawGraph(s) {
  const cy = ha.cy;
  const pos = positions(s);
  const els = [];
  for (const n of s.nodes) {
    els.push({ group: 'nodes', data: { id: n.address, label: n.label + '\\n' + n.address + '\\n' + (n.up ? n.role : 'down') },
      classes: [n.up ? (n.role === 'master' ? 'master' : 'replica') : 'down'].join(' '), position: pos[n.address] });
  }
  for (const t of s.sentinels) {
    els.push({ group: 'nodes', data: { id: t.address, label: t.label }, classes: 'sentinel' + (t.up ? '' : ' down'), position: pos[t.address] });
  }
  const ids = new Set(s.nodes.map((n) => n.address));
  for (const n of s.nodes) {
    if (n.up && n.role === 'slave' && ids.has(n.master)) {
      els.push({ group: 'edges', data: { id: 'r:' + n.address, source: n.master, target: n.address }, classes: 'repl' + (n.link === 'up' ? '' : ' broken') });
    }
  }
  for (const t of s.sentinels) {
    if (t.up && ids.has(t.master)) els.push({ group: 'edges', data: { id: 'w:' + t.address, source: t.address, target: t.master }, classes: 'watch' });
  }
  cy.batch(() => { cy.elements().remove(); cy.add(els); });
  cy.fit(undefined, 30);
}
function drawTables(s, load, actions) {
  const btn = (a, n, text) => actions ? '<button data-action="' + a + '" data-node="' + esc(n) + '">' + text + '</button>' : '';
  document.getElementById('nodes').innerHTML = '<tr><th>node</th><th>address</th><th>role</th><th>link</th><th>offset</th><th>lag</th><th>keys</th><th>ops/s</th><th>memory</th><th></th></tr>' +
    s.nodes.map((n) => '<tr data-address="' + esc(n.address) + '"><td>' + esc(n.label) + '</td><td>' + esc(n.address) + '</td><td class="' + (n.up ? n.role : 'down') + '">' + (n.up ? n.role : 'down') + '</td><td>' + esc(n.link) +
      '</td><td>' + (n.up ? n.offset : '') + '</td><td>' + (n.up && n.role === 'slave' ? n.lagBytes : '') + '</td><td>' + (n.up ? n.keys : '') + '</td><td>' + (n.up ? n.opsPerSec : '') + '</td><td>' + esc(n.memory) + '</td><td>' +
      btn('kill', n.address, 'kill') + btn('pause', n.address, 'pause') + btn('restart', n.address, 'restart') + (n.role === 'slave' ? btn('promote', n.address, 'slaveof no one') : '') + '</td></tr>').join('');
  document.getElementById('sentinels').innerHTML = '<tr><th>sentinel</th><th>address</th><th>sees master</th><th>flags</th><th>epoch</th><th>leader</th><th>failover</th></tr>' +
    s.sentinels.map((t) => '<tr><td>' + esc(t.label) + '</td><td>' + esc(t.address) + '</td><td>' + (t.up ? esc(t.master) : '<span class="down">down</span>') + '</td><td>' + esc(t.flags) + '</td><td>' + t.configEpoch + '</td><td>' + esc(t.leader.slice(0, 12)) + '</td><td>' + esc(t.failoverState) + '</td></tr>').join('');
  const last = s.failovers[s.failovers.length - 1];
  document.getElementById('failover').innerHTML = s.lostAt !== null ? '<span class="down">master lost ' + ((Date.now() - s.lostAt) / 1000).toFixed(1) + ' s ago…</span>'
    : last ? 'last failover: ' + esc(last.from) + ' → ' + esc(last.to) + ' in <b id="failover-ms">' + last.durationMs + '</b> ms (' + (last.measuredBy === 'load' ? 'until the first acknowledged write' : 'until +switch-master') + '), ' + s.failovers.length + ' in all' : 'no failover yet';
  document.getElementById('load').innerHTML = load ? 'load (set name tedu-N through the sentinels): ' + load.writes + ' writes, ' + load.errors + ' errors, longest gap ' + load.longestGapMs + ' ms' + (load.lastError ? ', last error: ' + esc(load.lastError) : '') : '';
  document.getElementById('kill-master').style.display = actions ? '' : 'none';
}
function drawTimeline(s) {
  const box = document.getElementById('timeline');
  box.innerHTML = s.events.slice(-200).map((e) => {
    const cls = e.channel === '+switch-master' ? 'ev-switch' : /[+]s?o?down|[+]sdown|[+]odown/.test(e.channel) ? 'ev-down' : '';
    return '<div class="' + cls + '" data-channel="' + esc(e.channel) + '">' + new Date(e.time).toISOString().slice(11, 23) + ' ' + esc(e.source) + ' <b>' + esc(e.channel) + '</b> ' + esc(e.message) + '</div>';
  }).join('');
  box.scrollTop = box.scrollHeight;
}
function drawChart(s) {
  const addrs = Object.keys(s.offsets);
  const times = [...new Set(addrs.flatMap((a) => s.offsets[a].map((p) => p[0])))].sort((a, b) => a - b);
  const data = [times.map((t) => t / 1000)];
  for (const a of addrs) { const m = new Map(s.offsets[a]); data.push(times.map((t) => m.has(t) ? m.get(t) : null)); }
  const key = addrs.join(',');
  if (!ha.chart || ha.chartKey !== key) {
    if (ha.chart) ha.chart.destroy();
    const colors = ['#1a7f37', '#0a58ca', '#d97706', '#8250df', '#c62828', '#0891b2'];
    const label = (a) => (s.nodes.find((n) => n.address === a) || { label: a }).label + ' ' + a;
    ha.chart = new uPlot({ width: 520, height: 260, series: [{}, ...addrs.map((a, i) => ({ label: label(a), stroke: colors[i % colors.length], spanGaps: false }))], axes: [{}, { size: 70 }] }, data, document.getElementById('chart'));
    ha.chartKey = key;
  } else ha.chart.setData(data);
}
function render(state) {
  const s = state.snapshot;
  ha.snapshot = s; ha.load = state.load; ha.updates++;
  document.getElementById('title').textContent = 'master "' + s.name + '" at ' + s.master;
  drawGraph(s); drawTables(s, state.load, state.actions); drawTimeline(s); drawChart(s);
}
document.body.addEventListener('click', async (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b) return;
  const status = document.getElementById('status');
  status.textContent = b.dataset.action + '…';
  const r = await fetch('/action', { method: 'POST', body: JSON.stringify({ action: b.dataset.action, node: b.dataset.node || '' }) });
  const j = await r.json();
  status.textContent = j.ok || j.error;
});
const es = new EventSource('/events');
es.onmessage = (m) => render(JSON.parse(m.data));
es.onerror = () => { document.getElementById('status').textContent = 'disconnected from nodis-ha'; };
</script>
</body>
</html>
`;
