// mcp.mjs - start @modelcontextprotocol/server-everything (pinned in
// tests/mcp) on a free loopback port for the MCP integration and e2e tests.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { ROOT } from './harness.mjs';

export const EVERYTHING = path.join(ROOT, 'tests/mcp/node_modules/@modelcontextprotocol/server-everything/dist/index.js');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

// Start server-everything in `mode` ('streamableHttp' or 'sse'); resolve once
// it says it listens, with { port, proc, url }. Started processes are pushed
// onto `procs` so the caller kills them in its after() hook. A port taken
// between the probe and the bind is retried.
export async function startEverything(procs, mode = 'streamableHttp') {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const p = spawn(process.execPath, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    const ok = await new Promise((resolve) => {
      let out = '';
      const t = setTimeout(() => resolve(false), 20000);
      const on = (d) => {
        out += d;
        if (/listening on port|running on port/.test(out)) { clearTimeout(t); resolve(true); }
        if (/already in use/.test(out)) { clearTimeout(t); resolve(false); }
      };
      p.stderr.on('data', on);
      p.stdout.on('data', on);
      p.on('exit', () => { clearTimeout(t); resolve(false); });
    });
    if (ok) return { port, proc: p, url: `http://127.0.0.1:${port}/mcp` };
    p.kill('SIGKILL');
  }
  throw new Error('server-everything did not start');
}
