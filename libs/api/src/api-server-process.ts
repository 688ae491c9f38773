import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixtures/api-server.ts', import.meta.url));

export interface ApiServerProcess {
  /** Where the API is served in local mode, and in team mode (one store behind both). */
  local: { url: string; port: number };
  team: { url: string; port: number };
  /** Local mode allowing portal.cairn.test and *.example.org besides loopback (allowedHosts). */
  allowing: { url: string; port: number };
  /** The server's resident memory after a full garbage collection, in bytes. */
  rss(): Promise<number>;
  /** Errors the handler did not expect (each would have been a 500). */
  internalErrors: string[];
  stop(): Promise<void>;
}

/** The API handler in a child process (fixtures/api-server.ts). */
export async function startApiServer(): Promise<ApiServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', FIXTURE], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const internalErrors: string[] = [];
  const waiting: ((rss: number) => void)[] = [];
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      if (child.connected) child.disconnect();
      else child.kill();
    });
  const ports = await new Promise<{ local: number; team: number; allowing: number }>((resolve, reject) => {
    child.on('message', (m: { ports?: { local: number; team: number; allowing: number }; rss?: number; internal?: string }) => {
      if (m.ports) resolve(m.ports);
      if (m.rss) waiting.shift()?.(m.rss);
      if (m.internal) internalErrors.push(m.internal);
    });
    child.once('exit', (code) => reject(new Error(`the API server exited (${code}) before listening: ${stderr}`)));
  });
  const at = (port: number) => ({ port, url: `http://127.0.0.1:${port}` });
  return {
    local: at(ports.local),
    team: at(ports.team),
    allowing: at(ports.allowing),
    internalErrors,
    rss: () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.send('rss');
      }),
    stop,
  };
}
