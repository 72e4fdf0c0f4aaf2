import { Agent } from 'node:https';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';
import { ORDER_FIELDS } from '../../shared/adapters';
import { CosmosDocumentStore } from '../../shared/storage/cosmos';

/**
 * A Cosmos-protocol server behind a TCP relay: stopping the relay is the store
 * going down (connections cut, new ones refused) while the server keeps its
 * data, which a restart of the server itself would lose.
 */
export async function relayedCosmos(): Promise<{ store: CosmosDocumentStore; stop(): Promise<void>; resume(): Promise<void>; close(): Promise<void> }> {
  const cosmos = createHttpsServer();
  await listen(cosmos, 0);
  const target = (cosmos.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  const relay = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
  });
  await listen(relay, 0);
  const port = (relay.address() as AddressInfo).port;
  const agent = new Agent({ rejectUnauthorized: false });
  // No endpoint discovery: the server advertises its own port, which would go around the relay.
  const client = new CosmosClient({ endpoint: `https://127.0.0.1:${port}`, key: Buffer.from('k').toString('base64'), agent, connectionPolicy: { enableEndpointDiscovery: false } });
  const store = new CosmosDocumentStore(client, { databaseId: `atomic${Date.now()}`, orderFields: ORDER_FIELDS });
  const stop = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => { relay.close(() => { resolve(); }); });
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    store,
    stop,
    resume: () => listen(relay, port),
    close: async () => {
      if (relay.listening) await stop();
      agent.destroy();
      cosmos.closeAllConnections();
      await new Promise<void>((resolve) => { cosmos.close(() => { resolve(); }); });
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
}

