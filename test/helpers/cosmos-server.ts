import { Agent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';

export interface CosmosTestServer {
  endpoint: string;
  key: string;
  /** Accepts the server's self-signed certificate; tests only. */
  agent: Agent;
  close(): Promise<void>;
}

/**
 * Starts `@vercel/cosmosdb-server` (a Cosmos DB wire-protocol server, data in
 * memory) on a random free port of 127.0.0.1. The package exports
 * `createHttpsServer` (also its default), not `createServer`. It checks no
 * signatures, so any base64 key will do.
 */
export async function startCosmosServer(): Promise<CosmosTestServer> {
  const server = createHttpsServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const agent = new Agent({ rejectUnauthorized: false });
  return {
    endpoint: `https://127.0.0.1:${port}`,
    key: Buffer.from('castiel-sync-test-key').toString('base64'),
    agent,
    close: async () => {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
      });
    },
  };
}
