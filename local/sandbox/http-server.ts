import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SandboxServer {
  /** e.g. http://127.0.0.1:54321 (no trailing slash). */
  origin: string;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

/**
 * The HTTP server every provider sandbox runs on: a handler that never takes
 * the process down (an unexpected throw is a bare 500), short keep-alive so
 * close() is quick, and a loopback port picked by the OS unless one is given.
 */
export async function listenSandbox(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: { host?: string | undefined; port?: number | undefined } = {},
): Promise<SandboxServer> {
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // Keep-alive sockets would hold close() open; a sandbox is short-lived.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    origin: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => {
          if (e) reject(e);
          else resolve();
        });
        server.closeAllConnections();
      }),
  };
}

/** Client credentials from `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1); undefined when malformed. */
export function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  const match = header ? /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

/**
 * The request body, or undefined once it passes `maxBytes`. The rest is still
 * read (and dropped), so the connection stays usable for the error answer.
 */
export async function readBodyLimited(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  return size > maxBytes ? undefined : Buffer.concat(chunks);
}
