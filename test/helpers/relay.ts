// SPDX-License-Identifier: Apache-2.0
/**
 * A TCP relay on 127.0.0.1 in front of a test hub that can be frozen: while frozen, every
 * connection stays open and nothing is forwarded either way, as when a firewall drops the
 * hub's packets (calls hang until their own timeouts, unlike a stopped hub, which refuses).
 * `retarget` sends new connections to another port (a load balancer failing over to another
 * hub replica) and cuts the open ones.
 */
import net from 'node:net';

export interface Relay {
  readonly port: number;
  freeze(): void;
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startRelay(t: { teardown(fn: () => void | Promise<void>): void }, targetPort: number): Promise<Relay> {
  let frozen = false;
  let target = targetPort;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (frozen) return; // accepted, never connected onward: the handshake hangs
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    const forward = (from: net.Socket, to: net.Socket) => from.on('data', (chunk: Buffer) => !frozen && to.write(chunk));
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.teardown(close);
  const retarget = (port: number): void => {
    target = port;
    for (const socket of sockets) socket.destroy();
  };
  return { port: (server.address() as net.AddressInfo).port, freeze: () => void (frozen = true), retarget, close };
}
