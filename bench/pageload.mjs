// Usage: node --experimental-websocket pageload.mjs URL [RUNS]
// Loads URL in a headless Chromium RUNS times (default 5) and prints, for
// each, the milliseconds from navigation start until the status page has
// drawn its first api/job answer (body[data-loaded]).
import { spawn } from 'node:child_process';

const url = process.argv[2];
const runs = Number(process.argv[3] || 5);
const port = 9300 + Math.floor(Math.random() * 500);
const chrome = spawn('chromium', ['--headless', '--no-sandbox', '--disable-gpu', `--remote-debugging-port=${port}`, '--user-data-dir=/tmp/pl/profile-' + port, 'about:blank'], { stdio: 'ignore' });
const sleep = ms => new Promise(r => setTimeout(r, ms));
const deadline = Date.now() + 30000;
let target;
while (!target && Date.now() < deadline) {
  try {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    target = list.find(t => t.type === 'page');
  } catch { await sleep(100); }
}
if (!target) { chrome.kill('SIGKILL'); throw new Error('chromium did not start'); }
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = bad; });
let id = 0; const waiting = new Map();
ws.onmessage = m => { const d = JSON.parse(m.data); if (waiting.has(d.id)) { waiting.get(d.id)(d.result); waiting.delete(d.id); } };
const call = (method, params = {}) => new Promise(r => { const i = ++id; waiting.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
const evaluate = async expr => (await call('Runtime.evaluate', { expression: expr, returnByValue: true })).result.value;
const times = [];
for (let i = 0; i < runs; i++) {
  await call('Page.navigate', { url });
  let t = null;
  const stop = Date.now() + 20000;
  while (t === null && Date.now() < stop) {
    t = await evaluate("document.body && document.body.dataset.loaded ? performance.now() : null");
    if (t === null) await sleep(5);
  }
  times.push(t === null ? 'timeout' : Math.round(t));
}
console.log(JSON.stringify({ url, ms: times }));
ws.close(); chrome.kill('SIGKILL');
process.exit(0);
