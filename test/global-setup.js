/**
 * Before the suite: make sure a Redis answers on 127.0.0.1:6379 (start
 * `redis-server` when none does, so `npm test` needs no service started by
 * hand), then build dist/ once: tests that run the app or its workers in
 * child processes (npm start, the kill test) use the compiled output.
 */
const { execFileSync, spawnSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

function redisAnswers() {
  return new Promise((resolve) => {
    const socket = net.connect(6379, '127.0.0.1');
    const done = (ok) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

async function ensureRedis() {
  if (await redisAnswers()) return;
  const started = spawnSync('redis-server', ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--appendonly', 'no'], { stdio: 'inherit' });
  if (started.error) {
    throw new Error('No Redis answers on 127.0.0.1:6379 and redis-server is not installed. Install it (Debian/Ubuntu: `apt-get update && apt-get install -y redis-server`) or start one yourself.');
  }
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server was started but does not answer on 127.0.0.1:6379');
}

module.exports = async function globalSetup() {
  await ensureRedis();
  const root = path.join(__dirname, '..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
};
